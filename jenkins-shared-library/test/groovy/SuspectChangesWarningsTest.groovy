import java.time.Instant
import java.time.temporal.ChronoUnit

/**
 * vars/suspectChanges.groovy never fails the build: a tracker that is down or refuses, a missing credential or
 * plugin, a bad parameter is each one WARNING line and an empty list, and the token is never printed.
 */
class SuspectChangesWarningsTest extends BasePipelineTest {
    static final String SUSPECTS = TRACKER + '/api/v1/suspects'

    void assertWarnedAndGaveNothing(List suspects, String text) {
        assert suspects == []
        assert harness.log.any { it.startsWith('WARNING: suspectChanges: ') && it.contains(text) }:
            "no warning containing '${text}':\n${harness.log.join('\n')}"
        assert harness.badges.isEmpty()
        assert harness.currentBuild.result == null: 'the step never sets a result'
        assertNoSecretEchoed()
    }

    void testNoAgentNoToolsAndNoBuildUrlIsAWarningWithoutHttp() {
        harness.env.remove('NODE_NAME')
        harness.env.remove('BUILD_URL')

        List suspects = suspectChanges()

        assert harness.httpRequests.isEmpty()
        assertWarnedAndGaveNothing(suspects, 'nothing to ask about: no agent (NODE_NAME is unset outside a node block)')
    }

    void testUnknownAgentOfTheBuildIs422WithAHint() {
        harness.env.remove('NODE_NAME')
        answer(422, [code  : 422, message: 'Validation failed.',
                     errors: [build_url: ["The build's agent is unknown: no event recorded with this build_url " +
                                              'names an agent. Pass agent=<name> (the agent the build ran on).']]])

        List suspects = suspectChanges()

        assert harness.httpRequests.size() == 1
        assertWarnedAndGaveNothing(suspects, "Change Tracker could not search for suspects (HTTP 422: Validation " +
            "failed. (build_url: The build's agent is unknown")
        assertLogContains("; pass agents: ['<the agent the build ran on>']")
    }

    void testRejectedQueryNamesTheField() {
        answer(422, [code: 422, message: 'Validation failed.', errors: [since: ['Must be before \'before\'.']]])

        List suspects = suspectChanges()

        assertWarnedAndGaveNothing(suspects, "(HTTP 422: Validation failed. (since: Must be before 'before'.))")
        assert !harness.log.any { it.contains('pass agents:') }: 'the agent was known'
    }

    void testTrackerDownIsOneWarningAndTheBuildGoesOn() {
        answerUnreachable(1)

        List suspects = suspectChanges()

        assert harness.httpRequests.size() == 1: 'no retries: the answer is only useful now'
        assert harness.sleeps.isEmpty()
        assertWarnedAndGaveNothing(suspects, "could not reach Change Tracker at ${SUSPECTS} (ConnectException: " +
            'Connection refused)')
    }

    void testServerErrorIsAWarning() {
        answer(502, '<html><body><h1>502 Bad Gateway</h1></body></html>')

        assertWarnedAndGaveNothing(suspectChanges(), 'Change Tracker answered HTTP 502: 502 Bad Gateway')
    }

    void testAnswerWithoutItemsIsAWarning() {
        answer(200, '{"status": "ok"}')

        assertWarnedAndGaveNothing(suspectChanges(), 'without a list of suspects')
    }

    void testRefusedTokenNamesTheCredentialNeverTheSecret() {
        answer(401, [code: 401, message: 'Invalid or expired token.', errors: [:]])

        List suspects = suspectChanges()

        assertWarnedAndGaveNothing(suspects, "Change Tracker refused the token in credentials 'change-tracker-token' " +
            '(HTTP 401: Invalid or expired token.)')
        assert !harness.env.containsKey('CHANGETRACKER_TOKEN'): 'withCredentials must not leak the variable'
        assert !(harness.httpRequests[0].url as String).contains(TOKEN)
    }

    void testAnErrorQuotingTheTokenIsRedacted() {
        harness.credentials['change-tracker-token'] = TOKEN + '\n'  // pasted with its newline
        answers << new IllegalArgumentException('Illegal character(s) in message header value: Bearer ' + TOKEN + '\n')

        List suspects = suspectChanges()

        assert harness.httpRequests[0].customHeaders == headers(): 'the token is trimmed'
        assertWarnedAndGaveNothing(suspects, 'Illegal character(s) in message header value: Bearer ****')
    }

    void testTokenWithoutReadScopeIsExplained() {
        answer(403, [code: 403, message: 'Forbidden.', errors: [:]])

        assertWarnedAndGaveNothing(suspectChanges(), 'it needs the read scope')
    }

    void testMissingCredentialIsAWarning() {
        List suspects = suspectChanges(credentialsId: 'nope')

        assert harness.httpRequests.isEmpty()
        assertWarnedAndGaveNothing(suspects, "could not use credentials 'nope' (PipelineAbort: Could not find " +
            "credentials entry with ID 'nope')")
    }

    void testBadParametersOnlyWarnBeforeAnyHttp() {
        List<List> cases = [
            ["unknown parameter 'agent' (known: agents, tools", [agent: 'linux-07']],
            ["limit must be a whole number from 1 to 200 (got '0')", [limit: 0]],
            ["limit must be a whole number from 1 to 200 (got '500')", [limit: 500]],
            ["since must be a time: ISO 8601 with an offset such as '2026-11-20T01:00:00Z', epoch milliseconds or " +
                 "a Date (got 'yesterday')", [since: 'yesterday']],
            ['since must be before now', [since: Instant.now().plus(1, ChronoUnit.DAYS).toString()]],
            ['url must start with http:// or https://', [url: 'changes.example.test']],
            ['timeout must be a whole number of seconds', [timeout: 'soon']],
            ['tools must be a name or a list of names', [tools: 17]],
            ['credentialsId is required', [credentialsId: ' ']],
        ]
        cases.each { String expected, Map config ->
            setUp()
            List suspects = suspectChanges(config)
            assert harness.httpRequests.isEmpty(): "${config}: no HTTP"
            assertWarnedAndGaveNothing(suspects, expected)
        }
        setUp()
        harness.env.remove('CHANGETRACKER_URL')
        assertWarnedAndGaveNothing(suspectChanges(), 'url is required: pass url: or set the CHANGETRACKER_URL')
    }

    void testWithoutTheHttpRequestPluginOnWindowsIsAWarning() {
        harness.httpRequestPluginInstalled = false
        harness.unixAgent = false

        assertWarnedAndGaveNothing(suspectChanges(), 'no httpRequest step (install the HTTP Request plugin), and ' +
            'curl runs on Unix agents only, not on linux-07')
        assert harness.shellCalls.isEmpty()
    }

    void testWithoutTheHttpRequestPluginATrackerDownIsOneCurlAndAWarning() {
        harness.httpRequestPluginInstalled = false
        ServerSocket socket = new ServerSocket(0, 1, InetAddress.loopbackAddress)
        int port = socket.localPort
        socket.close()

        List suspects = suspectChanges(url: "http://127.0.0.1:${port}".toString())

        assert harness.shellCalls.size() == 1
        assertWarnedAndGaveNothing(suspects, "could not reach Change Tracker at http://127.0.0.1:${port}/api/v1/" +
            'suspects (curl exit 7: could not connect)')
    }

    void testSlowTrackerTimesOutIntoAWarning() {
        LocalTracker tracker = new LocalTracker().answer(200, '{"agents": [], "items": []}', 6000)
        try {
            harness.transport = { Map args -> HttpRequestStandIn.send(args, { harness.log << it }) }
            long started = System.currentTimeMillis()

            List suspects = suspectChanges(url: tracker.url, timeout: 1)

            assert System.currentTimeMillis() - started < 5000: 'the 1 s timeout cut the 6 s answer short'
            assertWarnedAndGaveNothing(suspects, "could not reach Change Tracker at ${tracker.url}/api/v1/suspects " +
                '(SocketTimeoutException: Read timed out)')
        } finally {
            tracker.close()
        }
    }

    void testAnAbortStaysAnAbort() {
        answers << new InterruptedException('aborted by user')

        shouldFail(InterruptedException) { suspectChanges() }
    }

    void testInAFailedPipelineTheBuildFailsForItsOwnReasonOnly() {
        answerUnreachable(1)

        String message = failureOf {
            harness.runPipeline("""
                try {
                    echo 'compiling'
                    error('compilation failed')
                } catch (err) {
                    def suspects = suspectChanges()
                    echo 'suspects: ' + suspects.size()
                    throw err
                }
            """)
        }

        assert message == 'compilation failed'
        assert harness.currentBuild.result == 'FAILURE'
        assertLogContains('WARNING: suspectChanges: could not reach Change Tracker')
        assert harness.log[-2..-1] == ['suspects: 0', 'ERROR: compilation failed']
    }
}
