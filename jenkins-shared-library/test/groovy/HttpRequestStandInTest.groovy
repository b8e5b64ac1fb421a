/** The harness's httpRequest has to behave like the plugin's, or the step tests prove little. */
class HttpRequestStandInTest extends GroovyTestCase {
    LocalTracker tracker
    List<String> log = []

    @Override
    protected void setUp() {
        super.setUp()
        tracker = new LocalTracker()
    }

    @Override
    protected void tearDown() {
        tracker.close()
        super.tearDown()
    }

    void testSendsMethodHeadersAndUtf8BodyAndReturnsStatusAndContent() {
        tracker.answer(201, '{"id": 12, "title": "é"}')

        def response = HttpRequestStandIn.send([url: tracker.url + '/api/v1/events', httpMode: 'POST',
                                                contentType: 'APPLICATION_JSON_UTF8', requestBody: '{"title": "é"}',
                                                customHeaders: [[name: 'X-Test', value: 'v', maskValue: false]],
                                                validResponseCodes: '100:599', timeout: 5, quiet: true], { log << it })

        assert response.status == 201
        assert response.content == '{"id": 12, "title": "é"}'
        def request = tracker.received[0]
        assert request.method == 'POST'
        assert request.header('X-Test') == 'v'
        assert request.body == '{"title": "é"}'.getBytes('UTF-8')
        assert log.isEmpty(): 'quiet: true prints nothing'
    }

    void testSendsPatchWithItsBody() {
        tracker.answer(200, '{"id": 12}')

        def response = HttpRequestStandIn.send([url        : tracker.url + '/api/v1/events/12', httpMode: 'PATCH',
                                                contentType: 'APPLICATION_JSON_UTF8',
                                                requestBody: '{"severity": "high"}', validResponseCodes: '100:599',
                                                quiet      : true], { log << it })

        assert response.status == 200
        assert tracker.received[0].method == 'PATCH'
        assert tracker.received[0].path == '/api/v1/events/12'
        assert tracker.received[0].text() == '{"severity": "high"}'
    }

    void testRefusedConnectionIsAConnectException() {
        ServerSocket socket = new ServerSocket(0, 1, InetAddress.loopbackAddress)
        int port = socket.localPort
        socket.close()

        String message = shouldFail(ConnectException) {
            HttpRequestStandIn.send([url: "http://127.0.0.1:${port}/", quiet: true], { log << it })
        }
        assert message
    }

    void testErrorStatusContentIsReadWhenAccepted() {
        tracker.answer(422, '{"code": 422, "message": "Validation failed."}')

        def response = HttpRequestStandIn.send([url: tracker.url, httpMode: 'POST', requestBody: '{}',
                                                validResponseCodes: '100:599', quiet: true], { log << it })

        assert response.status == 422
        assert response.content.contains('Validation failed.')
    }

    void testStatusOutsideValidResponseCodesFailsTheStep() {
        tracker.answer(500, '{}')

        String message = shouldFail(PipelineAbort) {
            HttpRequestStandIn.send([url: tracker.url, quiet: true], { log << it })
        }
        assert message == 'Fail: Status code 500 is not in the accepted range: 100:399'
    }

    void testLogMasksMaskedHeaders() {
        HttpRequestStandIn.send([url: tracker.url, httpMode: 'POST', requestBody: '{}',
                                 customHeaders: [[name: 'Authorization', value: 'Bearer hush', maskValue: true]],
                                 validResponseCodes: '201'], { log << it })

        assert log.contains('Authorization: *****')
        assert !log.any { it.contains('hush') }
        assert log.contains('Success: Status code 201 is in the accepted range: 201')
    }

    void testTimeoutIsInSeconds() {
        tracker.answer(201, '{}', 6000)
        long started = System.currentTimeMillis()

        shouldFail(SocketTimeoutException) {
            HttpRequestStandIn.send([url: tracker.url, timeout: 1, quiet: true], { log << it })
        }
        assert System.currentTimeMillis() - started < 5000: 'the 1 s timeout cut the 6 s answer short'
    }

    void testUnknownParameterIsRejected() {
        shouldFail(IllegalArgumentException) {
            HttpRequestStandIn.send([url: tracker.url, timeOut: 1], { log << it })
        }
    }

    void testValidResponseCodesRanges() {
        assert HttpRequestStandIn.accepts('100:599', 100)
        assert HttpRequestStandIn.accepts('100:599', 599)
        assert !HttpRequestStandIn.accepts('100:399', 400)
        assert HttpRequestStandIn.accepts('200,201,300:308', 304)
        assert !HttpRequestStandIn.accepts('200,201', 202)
    }
}
