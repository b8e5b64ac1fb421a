import groovy.json.JsonSlurperClassic

/** vars/recordChange.groovy against a fake httpRequest (and, where it matters, real HTTP to a local tracker). */
class RecordChangeTest extends BasePipelineTest {

    void testArgumentsBecomeTheRequestBody() {
        harness.credentials['tracker-bot'] = TOKEN

        def id = recordChange(title: 'JDK 17.0.12 on linux agents', type: 'tool_update', severity: 'medium',
            agents: ['linux-01', 'linux-02'], tools: ['jdk17'], toolchains: ['java-build'], tags: ['jdk', 'security'],
            description: 'Security release', metadata: [from: '17.0.11', to: '17.0.12', hosts: 2],
            dedupeKey: 'jdk-17.0.12', credentialsId: 'tracker-bot', url: 'https://tracker.example.test/',
            timeout: 30)

        assert id == 42
        Map body = sentBody()
        assert body.title == 'JDK 17.0.12 on linux agents'
        assert body.type == 'tool_update'
        assert body.severity == 'medium'
        assert body.source == 'pipeline'
        assert body.agents == ['linux-01', 'linux-02']
        assert body.tools == ['jdk17']
        assert body.toolchains == ['java-build']
        assert body.tags == ['jdk', 'security']
        assert body.description == 'Security release'
        assert body.dedupe_key == 'jdk-17.0.12'
        assert body.build_url == BUILD_ENV.BUILD_URL
        assert body.metadata == [job  : 'platform/agent-images/main', build_number: 128, node: 'linux-07',
                                 labels: ['linux', 'docker', 'jdk17', 'linux-07'], from: '17.0.11', to: '17.0.12',
                                 hosts: 2]
        assert body.occurred_at ==~ /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z/
        assert !body.containsKey('ended_at')

        Map request = harness.httpRequests[0]
        assert request.url == 'https://tracker.example.test/api/v1/events'
        assert request.httpMode == 'POST'
        assert request.contentType == 'APPLICATION_JSON_UTF8'
        assert request.validResponseCodes == '100:599'
        assert request.timeout == 30
        assert request.quiet == true
        assert request.customHeaders == headers()
        assertLogContains('recordChange: recorded event https://tracker.example.test/events/42')
        assert harness.badges == [[icon: 'info.gif', text: 'Change Tracker: JDK 17.0.12 on linux agents',
                                   link: 'https://tracker.example.test/events/42']]
    }

    void testDefaultsComeFromTheBuild() {
        recordChange(title: 'Relabelled agent')

        Map body = sentBody()
        assert body.type == 'note'
        assert body.severity == 'info'
        assert body.agents == ['linux-07']
        assert body.tools == [] && body.toolchains == [] && body.tags == []
        assert !body.containsKey('description') && !body.containsKey('dedupe_key')
        assert body.metadata == [job: 'platform/agent-images/main', build_number: 128, node: 'linux-07',
                                 labels: ['linux', 'docker', 'jdk17', 'linux-07']]
        Map request = harness.httpRequests[0]
        assert request.url == TRACKER + '/api/v1/events'
        assert request.timeout == 10
        assertLogContains("recorded event ${TRACKER}/events/42")
    }

    void testOutsideANodeTheChangeIsFleetWide() {
        harness.env.remove('NODE_NAME')
        harness.env.remove('NODE_LABELS')
        harness.env.remove('BUILD_URL')

        recordChange(title: 'Artifact proxy restarted', type: 'maintenance')

        Map body = sentBody()
        assert body.agents == []
        assert !body.metadata.containsKey('node') && !body.metadata.containsKey('labels')
        assert !body.containsKey('build_url')
    }

    void testNamesAreCleanedAndNullParametersKeepTheirDefaults() {
        recordChange(title: "Docker ${27}.3", agents: 'linux-03', tags: ['docker', null, 'docker', ' '],
            type: null, severity: null, metadata: [image: "eclipse-temurin:${17}"])

        Map body = sentBody()
        assert body.agents == ['linux-03']
        assert body.tags == ['docker']
        assert body.type == 'note' && body.severity == 'info'
        assert body.metadata.image == 'eclipse-temurin:17'
    }

    void testCallerMetadataWinsOverBuildFacts() {
        recordChange(title: 'Moved job', metadata: [job: 'platform/new-home', reviewed: true])

        assert sentBody().metadata.job == 'platform/new-home'
        assert sentBody().metadata.reviewed == true
        assert sentBody().metadata.build_number == 128
    }

    /** Issue 5's bad input: each fails before any HTTP, with a message naming the parameter (no token: tearDown). */
    void testBadCallsFailBeforeAnyHttp() {
        List<List> cases = [
            ['title is required', { recordChange([:]) }],
            ['title is required', { recordChange(title: '   ') }],
            ['title must be at most 200 characters', { recordChange(title: 'x' * 201) }],
            ["type 'upgrade' is not one of: agent_config", { recordChange(title: 't', type: 'upgrade') }],
            ["severity 'urgent' is not one of: info", { recordChange(title: 't', severity: 'urgent') }],
            ['url is required', { harness.env.remove('CHANGETRACKER_URL'); recordChange(title: 't') }],
            ['url must start with http:// or https://', { recordChange(title: 't', url: 'changes.example.test') }],
            ["unknown parameter 'serverity'", { recordChange(title: 't', serverity: 'high') }],
            ['timeout must be a whole number of seconds', { recordChange(title: 't', timeout: -1) }],
            ['metadata must be a map', { recordChange(title: 't', metadata: 'from=1') }],
            ['failOnError must be true or false', { recordChange(title: 't', failOnError: 'yes') }],
            ['agents must be a name or a list of names', { recordChange(title: 't', agents: 7) }],
            ['tags entry', { recordChange(title: 't', tags: ['t' * 101]) }],
            ['credentialsId is required', { recordChange(title: 't', credentialsId: '') }],
        ]
        cases.each { String expected, Closure call ->
            setUp()
            String message = failureOf(call)
            assert message.startsWith('recordChange: ')
            assert message.contains(expected)
            assert harness.httpRequests.isEmpty(): "${expected}: no HTTP before validation"
            assert harness.shellCalls.isEmpty(): "${expected}: no curl either"
        }
    }

    void testTrackerDownOnlyWarnsByDefault() {
        answerUnreachable(3)

        def id = recordChange(title: 'JDK upgrade')

        assert id == null
        assert harness.httpRequests.size() == 3
        assert harness.sleeps == [[time: 2, unit: 'SECONDS'], [time: 4, unit: 'SECONDS']]
        assertLogContains("WARNING: recordChange: could not record 'JDK upgrade': could not reach Change Tracker at " +
            "${TRACKER}/api/v1/events (ConnectException: Connection refused)")
        assertLogContains('the build goes on')
        assert harness.currentBuild.result == null
        assertNoSecretEchoed()
    }

    void testTrackerDownFailsTheBuildWithFailOnError() {
        answerUnreachable(3)

        String message = failureOf { recordChange(title: 'JDK upgrade', failOnError: true) }

        assert message.startsWith("recordChange: could not record 'JDK upgrade': could not reach Change Tracker")
        assert harness.httpRequests.size() == 3
        assertNoSecretEchoed()
    }

    void testServerErrorsAreRetriedUntilTheTrackerAnswers() {
        answer(500, [code: 500, message: 'Internal Server Error', errors: [:]])
        answer(503, '<html><body><h1>503 Service Unavailable</h1></body></html>')
        answer(201, [id: 7, count: 1])

        assert recordChange(title: 'Plugin update') == 7
        assert harness.httpRequests.size() == 3
        assert harness.sleeps*.time == [2, 4]
        assertLogContains('attempt 1 of 3 failed: Change Tracker answered HTTP 500: Internal Server Error; ' +
            'trying again in 2 s')
        assertLogContains('attempt 2 of 3 failed: Change Tracker answered HTTP 503: 503 Service Unavailable')
        assert sentBody(0) == sentBody(2)
    }

    void testPersistentServerErrorWarnsOrFails() {
        3.times { answer(500, [code: 500, message: 'database is locked', errors: [:]]) }
        assert recordChange(title: 'Plugin update') == null
        assertLogContains("WARNING: recordChange: could not record 'Plugin update': Change Tracker answered " +
            'HTTP 500: database is locked')

        setUp()
        3.times { answer(500, [code: 500, message: 'database is locked', errors: [:]]) }
        String message = failureOf { recordChange(title: 'Plugin update', failOnError: true) }
        assert message == "recordChange: could not record 'Plugin update': Change Tracker answered HTTP 500: " +
            'database is locked'
    }

    void testRejectedEventIsNotRetriedAndNamesTheFields() {
        Map rejection = [code: 422, message: 'Validation failed.', errors: [build_url: ['Not a valid URL.']]]
        answer(422, rejection)

        assert recordChange(title: 'Odd build url') == null
        assert harness.httpRequests.size() == 1
        assert harness.sleeps.isEmpty()
        assertLogContains('Change Tracker rejected the event (HTTP 422: Validation failed. ' +
            '(build_url: Not a valid URL.))')

        setUp()
        answer(422, rejection)
        String message = failureOf { recordChange(title: 'Odd build url', failOnError: true) }
        assert message.contains('rejected the event (HTTP 422: Validation failed. (build_url: Not a valid URL.))')
        assert harness.httpRequests.size() == 1
    }

    void testWrongTokenNamesTheCredentialNotTheSecret() {
        answer(401, [code: 401, message: 'Invalid or expired token.', errors: [:]])

        assert recordChange(title: 'Agent relabelled', credentialsId: 'change-tracker-token') == null
        assert harness.httpRequests.size() == 1
        assertLogContains("refused the token in credentials 'change-tracker-token' " +
            '(HTTP 401: Invalid or expired token.)')
        assertNoSecretEchoed()
    }

    void testAnErrorQuotingTheTokenIsRedacted() {
        harness.credentials['change-tracker-token'] = ' ' + TOKEN + '\n'  // pasted with blanks around it
        String quoting = 'Illegal character(s) in message header value: Bearer ' + TOKEN
        3.times { answers << new IllegalArgumentException(quoting) }

        assert recordChange(title: 'Agent relabelled') == null
        assert harness.httpRequests*.customHeaders.unique() == [headers()]
        assertLogContains('(IllegalArgumentException: Illegal character(s) in message header value: Bearer ****)')
        assertNoSecretEchoed()
    }

    void testReadOnlyTokenIsExplained() {
        answer(403, [code: 403, message: 'Forbidden.', errors: [:]])

        assert recordChange(title: 'Agent relabelled') == null
        assertLogContains('it needs the record scope')
    }

    void testMissingCredentialWarnsOrFails() {
        assert recordChange(title: 'x', credentialsId: 'nope') == null
        assertLogContains("could not use credentials 'nope'")
        assert harness.httpRequests.isEmpty()

        setUp()
        String message = failureOf { recordChange(title: 'x', credentialsId: 'nope', failOnError: true) }
        assert message.contains("could not use credentials 'nope' (PipelineAbort: Could not find credentials " +
            "entry with ID 'nope')")
    }

    void testTokenIsOnlyInTheMaskedHeaderAndGoneAfterwards() {
        answer(500, [code: 500, message: 'boom', errors: [:]])
        answer(401, [code: 401, message: 'no', errors: [:]])

        recordChange(title: 'Secret rotation', description: 'rotated', metadata: [note: 'n'])

        harness.httpRequests.each { Map request ->
            assert !(request.requestBody as String).contains(TOKEN)
            assert request.customHeaders.every { it.maskValue == true }
        }
        assert !harness.env.containsKey('CHANGETRACKER_TOKEN'): 'withCredentials must not leak the variable'
        assertNoSecretEchoed()
    }

    void testDedupedEventIsReportedAsFolded() {
        answer(200, [id: 5, count: 3])

        assert recordChange(title: 'Nightly image rebuilt', dedupeKey: 'image-nightly') == 5
        assertLogContains("recordChange: folded into existing event ${TRACKER}/events/5")
    }

    void testWithoutTheBadgePluginTheLinkIsOnlyEchoed() {
        harness.badgePluginInstalled = false  // Jenkins: NoSuchMethodError
        assert recordChange(title: 'x') == 42
        assert harness.badges.isEmpty()

        setUp()
        harness.binding.variables.remove('addBadge')  // plain Groovy: MissingMethodException
        assert recordChange(title: 'x') == 42
        assertLogContains("recorded event ${TRACKER}/events/42")
    }

    void testWithoutTheHttpRequestPluginOutsideANodeIsAWarning() {
        harness.httpRequestPluginInstalled = false
        harness.env.remove('NODE_NAME')
        harness.env.remove('WORKSPACE')

        assert recordChange(title: 'x') == null
        assert harness.httpRequests.isEmpty() && harness.shellCalls.isEmpty()
        assert harness.sleeps.isEmpty(): 'no retry can install a plugin'
        assertLogContains("WARNING: recordChange: could not record 'x': no httpRequest step (install the HTTP " +
            'Request plugin), and no agent to run curl on outside a node block')
    }

    void testWithoutTheHttpRequestPluginCurlRecordsTheChange() {
        String title = 'Bump "jdk" to 17\'s\nnext $HOME ${x} `id` \\ é 日本 😀'
        LocalTracker tracker = new LocalTracker().answer(201, '{"id": 31}')
        try {
            harness.httpRequestPluginInstalled = false

            assert recordChange(title: title, url: tracker.url, tags: ['ünïcödé'], description: "it's \$5") == 31

            def request = tracker.received[0]
            assert [request.method, request.path] == ['POST', '/api/v1/events']
            assert request.header('Authorization') == 'Bearer ' + TOKEN
            assert request.header('Content-Type') == 'application/json; charset=UTF-8'
            Map body = (Map) new JsonSlurperClassic().parseText(request.text())
            assert body.title == title
            assert body.description == "it's \$5"
            assert body.tags == ['ünïcödé']
            assert harness.shellCalls.size() == 1
            assert !(harness.shellCalls[0].script as String).contains(TOKEN): 'the token is not in the script'
            assertLogContains("recordChange: recorded event ${tracker.url}/events/31")
            assert new File(harness.workspaceDir().path + '@tmp').list().toList() == []: 'the body file is removed'
        } finally {
            tracker.close()
        }
    }

    void testAwkwardTitleSurvivesJsonOverRealHttp() {
        String title = 'Bump "jdk" to 17\'s\nnext $HOME ${x} \\ é 日本 😀 </script>'
        LocalTracker tracker = new LocalTracker().answer(201, '{"id": 3}')
        try {
            harness.transport = { Map args -> HttpRequestStandIn.send(args, { harness.log << it }) }
            assert recordChange(title: title, url: tracker.url, tags: ['ünïcödé']) == 3

            def request = tracker.received[0]
            assert request.method == 'POST'
            assert request.path == '/api/v1/events'
            assert request.header('Content-Type') == 'application/json; charset=UTF-8'
            assert request.header('Authorization') == 'Bearer ' + TOKEN
            Map body = (Map) new JsonSlurperClassic().parseText(request.text())
            assert body.title == title
            assert body.tags == ['ünïcödé']
            assertNoSecretEchoed()
        } finally {
            tracker.close()
        }
    }

    void testRealHttpTimeoutIsHonouredAndRetried() {
        LocalTracker tracker = new LocalTracker().answer(201, '{"id": 1}', 6000).answer(201, '{"id": 2}')
        try {
            harness.transport = { Map args -> HttpRequestStandIn.send(args, { harness.log << it }) }
            long started = System.currentTimeMillis()
            assert recordChange(title: 'Slow tracker', url: tracker.url, timeout: 1) == 2
            assert System.currentTimeMillis() - started < 5000: 'the 1 s timeout cut the 6 s answer short'
            assert tracker.received.size() == 2
            assertLogContains('attempt 1 of 3 failed: could not reach Change Tracker')
            assertLogContains('SocketTimeoutException')
        } finally {
            tracker.close()
        }
    }

    void testRealHttpConnectionRefusedWarns() {
        ServerSocket socket = new ServerSocket(0, 1, InetAddress.loopbackAddress)
        int port = socket.localPort
        socket.close()
        harness.transport = { Map args -> HttpRequestStandIn.send(args, { harness.log << it }) }

        assert recordChange(title: 'Tracker down', url: "http://127.0.0.1:${port}".toString()) == null
        assertLogContains('could not reach Change Tracker at http://127.0.0.1:' + port +
            '/api/v1/events (ConnectException')
    }
}
