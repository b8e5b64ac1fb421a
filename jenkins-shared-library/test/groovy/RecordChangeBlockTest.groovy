/**
 * recordChange with a block: the event recorded as the block starts, then its end, outcome, raised severity and
 * error; the block's failure rethrown and never hidden by the tracker's.
 */
class RecordChangeBlockTest extends BasePipelineTest {

    void testInvalidBlockCallNeverRunsTheBlock() {
        boolean ran = false
        String message = failureOf { recordChange(title: 't', type: 'nope') { ran = true } }

        assert message.contains("type 'nope'")
        assert !ran
        assert harness.httpRequests.isEmpty()
    }

    void testInAPipelineATrackerOutageLeavesTheBuildGreen() {
        answerUnreachable(4)  // the start, then the whole event three times at the end

        harness.runPipeline("""
            def id = recordChange(title: 'Nightly agent refresh', type: 'agent_config') {
                echo 'refreshing'
            }
            echo 'event: ' + id
        """)

        assert harness.currentBuild.result == 'SUCCESS'
        assert harness.log.contains('refreshing')
        assert harness.log.last() == 'event: null'
        assert harness.httpRequests.size() == 4
        assertNoSecretEchoed()
    }

    void testBlockRecordsItsStartThenItsEndAndOutcome() {
        List<String> order = []
        harness.transport = { Map args ->
            order << args.httpMode
            [status: args.httpMode == 'POST' ? 201 : 200, content: '{"id": 9}']
        }

        def id = recordChange(title: 'Upgrade Docker', type: 'tool_update', tools: ['docker']) {
            order << 'body'
            Thread.sleep(5)
        }

        assert id == 9
        assert order == ['POST', 'body', 'PATCH']
        Map start = sentBody(0)
        assert start.title == 'Upgrade Docker' && start.tools == ['docker']
        assert start.severity == 'info'
        assert start.metadata.outcome == 'running'
        assert start.occurred_at && !start.containsKey('ended_at')
        assert harness.httpRequests[1].url == TRACKER + '/api/v1/events/9'
        Map end = sentBody(1)
        assert end.keySet() == ['ended_at', 'severity', 'metadata'] as Set
        assert end.severity == 'info'
        assert end.metadata == start.metadata + [outcome: 'success']
        assert java.time.Instant.parse(start.occurred_at) < java.time.Instant.parse(end.ended_at)
        assert harness.log == ["recordChange: started event ${TRACKER}/events/9".toString(),
                               "recordChange: ended event ${TRACKER}/events/9 (success)".toString()]
        assert harness.badges*.link == [TRACKER + '/events/9']
    }

    void testBlockWhoseStartWasNotRecordedIsRecordedWholeAtItsEnd() {
        answerUnreachable(1)
        answer(201, [id: 11])
        boolean ranBeforeAnyPause = false

        def id = recordChange(title: 'Upgrade Docker') { ranBeforeAnyPause = harness.sleeps.isEmpty() }

        assert id == 11
        assert ranBeforeAnyPause: 'the block does not wait for a tracker that is down'
        assert harness.httpRequests*.httpMode == ['POST', 'POST']
        Map body = sentBody(1)
        assert body.occurred_at && body.ended_at
        assert body.metadata.outcome == 'success'
        assertLogContains("recordChange: could not record the start of 'Upgrade Docker' (could not reach Change " +
            'Tracker at https://changes.example.test/api/v1/events (ConnectException: Connection refused)); ' +
            'recording it when the block ends')
        assertLogContains("recordChange: recorded event ${TRACKER}/events/11")
    }

    void testBlockFoldedIntoAnEarlierEventEndsThatEvent() {
        answer(200, [id: 5, count: 4])
        answer(200, [id: 5, count: 4])

        assert recordChange(title: 'Nightly image rebuild', dedupeKey: 'image-nightly') { 'built' } == 5

        assert sentBody(0).dedupe_key == 'image-nightly'
        assert harness.httpRequests[1].httpMode == 'PATCH'
        assert harness.httpRequests[1].url == TRACKER + '/api/v1/events/5'
        assert harness.log == ["recordChange: started, folded into existing event ${TRACKER}/events/5".toString(),
                               "recordChange: ended event ${TRACKER}/events/5 (success)".toString()]
    }

    void testBlockWhoseEndWasNotRecordedWarnsOrFails() {
        answer(201, [id: 9])
        3.times { answer(503, 'Service Unavailable') }

        assert recordChange(title: 'Upgrade Docker') { 'done' } == 9: 'the event exists: its id is returned'
        assert harness.httpRequests*.httpMode == ['POST', 'PATCH', 'PATCH', 'PATCH']
        assert harness.sleeps*.time == [2, 4]
        assertLogContains("WARNING: recordChange: could not record the end of 'Upgrade Docker' " +
            "(${TRACKER}/events/9): Change Tracker answered HTTP 503: Service Unavailable (the build goes on")

        setUp()
        answer(201, [id: 9])
        3.times { answer(503, 'Service Unavailable') }
        String message = failureOf { recordChange(title: 'Upgrade Docker', failOnError: true) { 'done' } }
        assert message == "recordChange: could not record the end of 'Upgrade Docker' (${TRACKER}/events/9): " +
            'Change Tracker answered HTTP 503: Service Unavailable'
    }

    void testFailedBlockIsRecordedAsHighAndRethrown() {
        PipelineAbort thrown = new PipelineAbort('script returned exit code 2')
        Throwable caught = null
        try {
            recordChange(title: 'Upgrade Docker', type: 'tool_update', severity: 'low') { throw thrown }
        } catch (Throwable e) {  // groovylint-disable-line CatchThrowable
            // The test is that the very same throwable comes back out.
            caught = e
        }

        assert caught.is(thrown)
        assert sentBody(0).severity == 'low'
        Map body = sentBody(1)
        assert body.severity == 'high'
        assert body.metadata.outcome == 'failure'
        assert body.metadata.error == 'script returned exit code 2'
        assert body.ended_at
    }

    void testFailedBlockKeepsAHigherSeverity() {
        shouldFail(PipelineAbort) {
            recordChange(title: 'Core upgrade', type: 'jenkins_core', severity: 'critical') {
                throw new PipelineAbort('boom')
            }
        }
        assert sentBody(1).severity == 'critical'
    }

    void testAbortedBlockIsRecordedAsAborted() {
        shouldFail(InterruptedException) {
            recordChange(title: 'Long migration') { throw new InterruptedException() }
        }
        assert sentBody(1).metadata.outcome == 'aborted'
        assert sentBody(1).metadata.error == 'java.lang.InterruptedException'
    }

    void testFailedBlockWinsOverAFailingTracker() {
        answerUnreachable(4)

        String message = failureOf {
            harness.runPipeline("""
                recordChange(title: 'Upgrade Docker', failOnError: true) {
                    echo 'upgrading'
                    error('apt-get failed')
                }
                echo 'not reached'
            """)
        }

        assert message == 'apt-get failed'
        assert harness.currentBuild.result == 'FAILURE'
        assert harness.log.contains('upgrading')
        assertLogContains("WARNING: recordChange: could not record 'Upgrade Docker'")
        assert !harness.log.contains('not reached')
        assert harness.log.last() == 'ERROR: apt-get failed'
        assert sentBody(3).metadata.error == 'apt-get failed'
    }

    void testBlockSucceedsButTrackerDownFailsWithFailOnError() {
        answerUnreachable(4)

        String message = failureOf { recordChange(title: 'Upgrade Docker', failOnError: true) { 'done' } }

        assert message.contains('could not reach Change Tracker')
    }

    void testBlockOverRealHttpPostsItsStartThenPatchesItsEnd() {
        LocalTracker tracker = new LocalTracker().answer(201, '{"id": 17}').answer(200, '{"id": 17}')
        try {
            harness.transport = { Map args -> HttpRequestStandIn.send(args, { harness.log << it }) }

            String message = shouldFail(PipelineAbort) {
                recordChange(title: 'Upgrade Docker', url: tracker.url) { throw new PipelineAbort('apt failed') }
            }

            assert message == 'apt failed'
            assert tracker.received*.method == ['POST', 'PATCH']
            assert tracker.received[1].path == '/api/v1/events/17'
            assert tracker.received[1].header('Authorization') == 'Bearer ' + TOKEN
            Map end = (Map) new groovy.json.JsonSlurperClassic().parseText(tracker.received[1].text())
            assert end.severity == 'high'
            assert end.metadata.outcome == 'failure' && end.metadata.error == 'apt failed'
            assertLogContains("recordChange: ended event ${tracker.url}/events/17 (failure)")
        } finally {
            tracker.close()
        }
    }
}
