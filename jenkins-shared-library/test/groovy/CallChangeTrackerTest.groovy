import io.changetracker.ApiRequest
import io.changetracker.CurlCommand
import io.changetracker.LibraryVersion

import java.nio.file.Files

/**
 * vars/callChangeTracker.groovy, the transport of the other steps: httpRequest (faked, or real HTTP to a local
 * tracker) and, on a Jenkins without the HTTP Request plugin, curl run by a real sh.
 */
class CallChangeTrackerTest extends BasePipelineTest {

    Map callChangeTracker(Map config) {
        return (Map) harness.step('callChangeTracker').invokeMethod('call', [config] as Object[])
    }

    /** The tracker at a port where nothing listens. */
    static String nobodyListening() {
        ServerSocket socket = new ServerSocket(0, 1, InetAddress.loopbackAddress)
        int port = socket.localPort
        socket.close()
        return "http://127.0.0.1:${port}"
    }

    void testGetSendsTheMaskedTokenAndReturnsTheAnswer() {
        answer(200, [items: [], next_cursor: null])

        Map answer = callChangeTracker(path: '/api/v1/events?agent=linux-07&limit=5')

        assert answer == [status: 200, content: '{"items":[],"next_cursor":null}', transport: 'httpRequest']
        assert harness.httpRequests == [[url               : TRACKER + '/api/v1/events?agent=linux-07&limit=5',
                                         httpMode          : 'GET', contentType: 'NOT_SET',
                                         acceptType        : 'APPLICATION_JSON', requestBody: '',
                                         customHeaders     : headers(),
                                         validResponseCodes: '100:599', timeout: 10, quiet: true]]
    }

    void testAMapBodyIsSentAsJson() {
        answer(201, [id: 4])

        Map answer = callChangeTracker(method: 'post', path: '/api/v1/events', body: [title: "JDK ${17}", tags: ['a']],
            url: 'https://other.example.test/', timeout: 3)

        assert answer.status == 201
        Map request = harness.httpRequests[0]
        assert request.url == 'https://other.example.test/api/v1/events'
        assert request.httpMode == 'POST'
        assert request.contentType == 'APPLICATION_JSON_UTF8'
        assert request.timeout == 3
        assert sentBody() == [title: 'JDK 17', tags: ['a']]
    }

    void testAnyStatusIsAnAnswer() {
        answer(500, 'Internal Server Error')

        assert callChangeTracker(path: '/api/v1/events') ==
            [status: 500, content: 'Internal Server Error', transport: 'httpRequest']
    }

    void testNoAnswerIsStatusZeroWithAProblemSafeToPrint() {
        answerUnreachable(1)
        assert callChangeTracker(path: '/api/v1/suspects?agent=linux-07') == [status: 0, retryable: true,
            problem: "could not reach Change Tracker at ${TRACKER}/api/v1/suspects (ConnectException: Connection " +
                'refused)']

        setUp()
        answers << new IllegalArgumentException('Illegal character(s) in message header value: Bearer ' + TOKEN)
        assert callChangeTracker(path: '/api/v1/events').problem.endsWith('header value: Bearer ****)')

        setUp()
        assert callChangeTracker(path: '/api/v1/events', credentialsId: 'nope') == [status: 0, retryable: false,
            problem: "could not use credentials 'nope' (PipelineAbort: Could not find credentials entry with ID " +
                "'nope')"]
        assert harness.httpRequests.isEmpty()
    }

    void testBadParametersFailBeforeAnyHttp() {
        List<List> cases = [
            ['path must be the API path, starting with /', [:]],
            ['path must be the API path, starting with /', [path: 'api/v1/events']],
            ["method 'fetch' is not one of: GET, POST, PUT, PATCH, DELETE", [path: '/api/v1/events', method: 'fetch']],
            ['body must be JSON text, or a map or list', [path: '/api/v1/events', body: 7]],
            ['url must start with http:// or https://', [path: '/api/v1/events', url: 'changes.example.test']],
            ['timeout must be a whole number of seconds', [path: '/api/v1/events', timeout: 0]],
            ["unknown parameter 'headers'", [path: '/api/v1/events', headers: [:]]],
        ]
        cases.each { String expected, Map config ->
            setUp()
            String message = failureOf { callChangeTracker(config) }
            assert message.startsWith('callChangeTracker: ') && message.contains(expected)
            assert harness.httpRequests.isEmpty() && harness.shellCalls.isEmpty()
        }
    }

    void testWithoutThePluginCurlPatchesWithTheBody() {
        harness.httpRequestPluginInstalled = false
        LocalTracker tracker = new LocalTracker().answer(200, '{"id": 5, "severity": "high"}')
        try {
            String body = '{"severity": "high", "metadata": {"error": "it\'s \\"$(id)\\" `id` $HOME é"}}'

            Map answer = callChangeTracker(method: 'PATCH', path: '/api/v1/events/5', body: body, url: tracker.url)

            assert answer == [status: 200, content: '{"id": 5, "severity": "high"}', transport: 'curl']
            def request = tracker.received[0]
            assert [request.method, request.path] == ['PATCH', '/api/v1/events/5']
            assert request.header('Authorization') == 'Bearer ' + TOKEN
            assert request.header('Accept') == 'application/json'
            assert request.header('Content-Type') == 'application/json; charset=UTF-8'
            assert request.text() == body
            assert harness.log == ['+ set +x']: 'nothing but the traced set +x: no token, no command line'
        } finally {
            tracker.close()
        }
    }

    void testCurlKeepsTheAnswerAsItIs() {
        harness.httpRequestPluginInstalled = false
        LocalTracker tracker = new LocalTracker().answer(422, '{"code": 422,\n "message": "Validation failed."}\n\n')
        try {
            Map answer = callChangeTracker(method: 'POST', path: '/api/v1/events', body: '{}', url: tracker.url)

            assert answer == [status: 422, content: '{"code": 422,\n "message": "Validation failed."}\n\n',
                              transport: 'curl']
        } finally {
            tracker.close()
        }
    }

    void testCurlSendsATokenThatIsNotShellSafeAsItIs() {
        String odd = 'ct_"quoted" \\back $(id) `id` ;rm'
        harness.credentials['odd'] = odd + '\n'
        harness.httpRequestPluginInstalled = false
        LocalTracker tracker = new LocalTracker().answer(200, '{}')
        try {
            assert callChangeTracker(path: '/api/v1/events', credentialsId: 'odd', url: tracker.url).status == 200

            assert tracker.received[0].header('Authorization') == 'Bearer ' + odd.replace(' ', '')
            assert !harness.log.any { it.contains('quoted') }
        } finally {
            tracker.close()
        }
    }

    void testCurlTimeoutAndRefusalAreRetryableProblems() {
        harness.httpRequestPluginInstalled = false
        LocalTracker tracker = new LocalTracker().answer(200, '{}', 6000)
        try {
            long started = System.currentTimeMillis()
            Map answer = callChangeTracker(path: '/api/v1/events', url: tracker.url, timeout: 1)

            assert System.currentTimeMillis() - started < 5000: 'curl --max-time cut the 6 s answer short'
            assert answer == [status: 0, retryable: true, problem: "could not reach Change Tracker at ${tracker.url}" +
                '/api/v1/events (curl exit 28: timed out)']
        } finally {
            tracker.close()
        }

        String nobody = nobodyListening()
        assert callChangeTracker(path: '/api/v1/events', url: nobody) == [status: 0, retryable: true,
            problem: "could not reach Change Tracker at ${nobody}/api/v1/events (curl exit 7: could not connect)"]
    }

    void testAnAgentWithoutCurlIsNotRetried() {
        harness.httpRequestPluginInstalled = false
        File bin = Files.createTempDirectory('no-curl').toFile()
        try {
            ['sh', 'tr', 'sed', 'rm'].each { String tool ->
                String path = ['/usr/bin/', '/bin/'].collect { it + tool }.find { new File(it).canExecute() }
                Files.createSymbolicLink(new File(bin, tool).toPath(), new File(path).toPath())
            }
            harness.env.PATH = bin.path
            String nobody = nobodyListening()

            assert callChangeTracker(path: '/api/v1/events', url: nobody) == [status: 0, retryable: false,
                problem: "could not reach Change Tracker at ${nobody}/api/v1/events (curl exit 127: curl is not " +
                    'installed on this agent)']
        } finally {
            bin.deleteDir()
        }
    }

    void testCurlGetsItsRequestFromTheEnvironmentNeverFromTheScript() {
        harness.httpRequestPluginInstalled = false
        Map seen = [:]
        harness.shell = { Map args ->
            seen.putAll(harness.env.findAll { it.key.startsWith('CT_') || it.key == 'CHANGETRACKER_TOKEN' })
            seen.body = new File(harness.env.CT_BODY_FILE).getText('UTF-8')
            seen.args = args
            return '{"id": 3}\n201\n0\n'
        }

        Map answer = callChangeTracker(method: 'POST', path: '/api/v1/events', body: '{"title": "x"}')

        assert answer == [status: 201, content: '{"id": 3}', transport: 'curl']
        assert seen.args == [script: CurlCommand.SCRIPT, returnStdout: true]
        assert seen.CT_METHOD == 'POST' && seen.CT_URL == TRACKER + '/api/v1/events' && seen.CT_TIMEOUT == '10'
        assert seen.CT_USER_AGENT == 'changetracker-jenkins-library/' + LibraryVersion.VERSION
        assert seen.CT_BODY_FILE.startsWith(harness.workspaceDir().path + '@tmp/change-tracker-')
        assert seen.body == '{"title": "x"}'
        assert seen.CHANGETRACKER_TOKEN == TOKEN: 'bound by withCredentials, for the script to read'
        assert !CurlCommand.SCRIPT.contains(TOKEN)
        assert !harness.env.keySet().any { it.startsWith('CT_') }: 'withEnv put env back'
    }

    void testOutputCurlDidNotWriteIsAProblem() {
        ApiRequest request = new ApiRequest([method: 'GET', path: '/api/v1/events', url: TRACKER])
        ['', 'garbage', '\n\n'].each { String output ->
            assert CurlCommand.answer(request, output) == [status: 0, problem: 'curl gave no answer that could be read',
                                                           retryable: false]
        }
        assert CurlCommand.answer(request, '\n204\n0\n') == [status: 204, content: '', transport: 'curl']
        assert CurlCommand.answer(request, '000\n35\n').problem.endsWith('(curl exit 35: TLS handshake failed)')
        assert CurlCommand.answer(request, '\n127\n').problem.endsWith('(curl exit 127: curl is not installed on ' +
            'this agent)')
    }
}
