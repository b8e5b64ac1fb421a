import static SuspectAnswers.event
import static SuspectAnswers.item

import io.changetracker.SuspectReport

import java.time.Duration
import java.time.Instant
import java.time.temporal.ChronoUnit

/**
 * vars/suspectChanges.groovy asking and answering: the query it sends, the suspects it prints and returns, the
 * badge. Against a fake httpRequest and, where it matters, real HTTP to a local tracker. The warnings it gives
 * instead are in SuspectChangesWarningsTest.
 */
class SuspectChangesTest extends BasePipelineTest {
    static final String SUSPECTS = TRACKER + '/api/v1/suspects'

    /** The job's last success started two days ago. */
    final Instant lastSuccessStart = Instant.now().minus(2, ChronoUnit.DAYS).truncatedTo(ChronoUnit.MILLIS)

    /** The tracker's suspects page asking what the step asked the API: the same query string. */
    String suspectsPage(int index = 0) {
        String url = harness.httpRequests[index].url
        return TRACKER + '/suspects?' + url.substring(url.indexOf('?') + 1)
    }

    void answerThreeSuspects() {
        answer(200, SuspectAnswers.threeSuspects(lastSuccessStart))
    }

    @Override
    protected void setUp() {
        super.setUp()
        harness.currentBuild.number = 128
        harness.currentBuild.previousSuccessfulBuild = new RunStandIn(number: 127,
            startTimeInMillis: lastSuccessStart.toEpochMilli())
    }

    void testAsksAboutThisBuildsAgentSinceTheLastSuccessfulBuild() {
        answerThreeSuspects()
        Instant asked = Instant.now()

        List suspects = suspectChanges()

        assert harness.httpRequests.size() == 1
        Map request = harness.httpRequests[0]
        assert pathOf() == SUSPECTS
        assert request.httpMode == 'GET'
        assert request.acceptType == 'APPLICATION_JSON'
        assert request.validResponseCodes == '100:599'
        assert request.timeout == 10
        assert request.quiet == true
        assert request.customHeaders == headers()
        Map<String, List<String>> query = queryOf()
        assert query.keySet() == ['agent', 'build_url', 'before', 'since', 'last_success', 'limit'] as Set
        assert query.agent == ['linux-07']
        assert query.build_url == [BUILD_ENV.BUILD_URL]
        assert query.since == [lastSuccessStart.toString()]
        assert query.last_success == [lastSuccessStart.toString()]
        assert query.limit == ['10']
        Instant before = Instant.parse(query.before[0])
        assert Duration.between(asked, before).abs() < Duration.ofSeconds(5)

        assert suspects*.id == [12, 9, 15]
        assert suspects*.rank == ['same_agent', 'fleet_wide', 'same_tool']
        assert suspects[0] == [id           : 12, title: 'Temurin 17.0.12 on linux-07', type: 'tool_update',
                               severity     : 'medium', occurredAt: '2026-11-20T10:00:00+00:00', endedAt: null,
                               agents       : ['linux-07'], tools: ['jdk17'], toolchains: [], unplanned: true,
                               rank         : 'same_agent', score: 147.15,
                               summary      : 'same agent, strong change, 2h 15m before, unplanned',
                               reasons      : ['same agent linux-07', 'strong change: tool update', 'severity medium',
                                               '2h 15m before the failure',
                                               'unplanned: detected, with no intent recorded before it'],
                               evidence     : [[rule: 'scope', reason: 'same agent linux-07', weight: 1.0],
                                               [rule: 'kind', reason: 'strong change: tool update', weight: 1.0],
                                               [rule: 'kind', reason: 'severity medium', weight: 1.0],
                                               [rule: 'kind', reason: '2h 15m before the failure', weight: 0.981],
                                               [rule  : 'kind',
                                                reason: 'unplanned: detected, with no intent recorded before it',
                                                weight: 1.5]],
                               secondsBefore: 8100L, revertedBy: [], url: TRACKER + '/events/12']
        assert suspects[2].reasons == ['names other agents only, not linux-07', 'tool jdk17 named in the query']
        assert suspects*.url == [TRACKER + '/events/12', TRACKER + '/events/9', TRACKER + '/events/15']
        assert harness.badges == [[icon: 'warning.gif', link: suspectsPage(),
                                   text: 'Change Tracker: 3 suspect changes; most likely #12 Temurin 17.0.12 on ' +
                                       'linux-07']]
        assertNoSecretEchoed()
    }

    void testTheFailedBuildsSummaryNamesTheMostLikelySuspectWithItsLink() {
        answerThreeSuspects()

        suspectChanges()

        assert harness.summaries == [[icon: 'warning.gif', link: TRACKER + '/events/12',
                                      text: 'Change Tracker: most likely #12 Temurin 17.0.12 on linux-07 (same ' +
                                          'agent, strong change, 2h 15m before, unplanned; score 147; 1 of 3 ' +
                                          'suspects)']]
    }

    void testPrintsTheSuspectsRankedWithTheirEvidenceInPlainWordsAndLinks() {
        answerThreeSuspects()

        suspectChanges()

        List<String> lines = harness.log.join('\n').readLines()
        assert lines[0] == 'suspectChanges: 3 changes could explain this failure (agent linux-07; since the start ' +
            "of the last successful build #127, ${lastSuccessStart}), most likely first:"
        assert lines[1..3] == [
            '  1. [same agent] #12 Temurin 17.0.12 on linux-07 (tool_update, medium, 2h 15m before the failure)',
            '       why: same agent, strong change, 2h 15m before, unplanned; score 147',
            '       https://changes.example.test/events/12',
        ]
        assert lines[4] == '  2. [fleet-wide] #9 Artifact proxy down (outage, high, 40s before the failure)'
        assert lines[5] == '       why: every build, strong change, high severity, ended 40s before; score 104'
        assert lines[7] ==
            '  3. [same tool] #15 Temurin 17.0.12 on linux-08 (tool_update, medium, 1d 3h before the failure)'
        assert lines[-2] == "  This build's suspects in Change Tracker: ${suspectsPage()}".toString()
        assert lines[-1] == '  Changes on linux-07: https://changes.example.test/agents/linux-07'
    }

    void testAnOlderTrackerWithoutSummariesStillGivesItsReasons() {
        answer(200, [agents: ['linux-07'], items: [[event: event(3, 'Relabelled'), rank: 'same_agent', score: 310.5,
                                                    reasons: ['same agent linux-07'], seconds_before: 60,
                                                    reverted_by: []]]])

        List suspects = suspectChanges()

        assert suspects[0].summary == '' && suspects[0].evidence == []
        assertLogContains('       why: same agent linux-07; score 311')
    }

    void testToolsAndToolchainsAreAskedAsTools() {
        answer(200, [agents: ['linux-07'], items: []])

        suspectChanges(tools: ['jdk17', 'maven-3.9'], toolchains: 'java-build', agents: ['linux-07', 'linux-08'],
            limit: 25, timeout: 3)

        assert queryOf().agent == ['linux-07', 'linux-08']
        assert queryOf().tool == ['jdk17', 'maven-3.9', 'java-build']
        assert queryOf().limit == ['25']
        assert harness.httpRequests[0].timeout == 3
    }

    void testSinceParameterWinsOverTheLastSuccessfulBuild() {
        answer(200, [agents: ['linux-07'], items: []])
        String since = Instant.now().minus(5, ChronoUnit.HOURS).truncatedTo(ChronoUnit.SECONDS)

        suspectChanges(since: since)

        assert queryOf().since == [since]
        assertLogContains("(agent linux-07; since ${since}).")
    }

    void testSinceAcceptsAnOffsetEpochMillisOrADate() {
        Instant instant = Instant.now().minus(3, ChronoUnit.HOURS).truncatedTo(ChronoUnit.SECONDS)
        [instant.atOffset(java.time.ZoneOffset.ofHours(2)).toString(), instant.toEpochMilli(),
         instant.toEpochMilli().toString(), Date.from(instant)].each { Object since ->
            setUp()
            answer(200, [agents: ['linux-07'], items: []])
            suspectChanges(since: since)
            assert queryOf().since == [instant.toString()]: "since: ${since}"
        }
    }

    void testALastSuccessLongAgoIsHeldToTheTrackersNinetyDays() {
        Instant longAgo = Instant.now().minus(200, ChronoUnit.DAYS)
        harness.currentBuild.previousSuccessfulBuild = new RunStandIn(number: 3,
            startTimeInMillis: longAgo.toEpochMilli())
        answer(200, [agents: ['linux-07'], items: []])

        suspectChanges()

        Instant before = Instant.parse(queryOf().before[0])
        assert Instant.parse(queryOf().since[0]) == before.minus(90, ChronoUnit.DAYS)
        assertLogContains('the tracker looks back at most 90 days; asked for ' +
            Instant.ofEpochMilli(longAgo.toEpochMilli()))
    }

    void testWithoutASuccessfulBuildTheTrackerLooksBackSevenDays() {
        harness.currentBuild.previousSuccessfulBuild = null
        answer(200, [agents: ['linux-07'], items: []])

        assert suspectChanges() == []

        assert !queryOf().containsKey('since')
        assertLogContains('suspectChanges: Change Tracker knows no change that could explain this failure ' +
            '(agent linux-07; in the 7 days before the failure).')
        assert harness.badges.isEmpty(): 'no badge for nothing'
    }

    void testARunWrapperThatRefusesAccessFallsBackToTheDefault() {
        harness.binding.setVariable('currentBuild', new RunStandIn() {
            @Override
            RunStandIn getPreviousSuccessfulBuild() {
                throw new SecurityException('Scripts not permitted to use method getPreviousSuccessfulBuild')
            }
        })
        answerThreeSuspects()

        assert suspectChanges()*.id == [12, 9, 15]

        assert !queryOf().containsKey('since')
        assertLogContains("suspectChanges: cannot read the last successful build (SecurityException); looking back " +
            "the tracker's default 7 days")
    }

    void testWithoutAnAgentTheTrackerFindsTheBuildsAgentsFromItsUrl() {
        harness.env.remove('NODE_NAME')
        answer(200, [agents: ['linux-03'], items: [item(event(4, 'Relabelled', [agents: ['linux-03']]), 'same_agent',
                                                         ['same agent linux-03', 'recorded by this build'], 60)]])

        List suspects = suspectChanges()

        assert !queryOf().containsKey('agent')
        assert queryOf().build_url == [BUILD_ENV.BUILD_URL]
        assert suspects*.reasons == [['same agent linux-03', 'recorded by this build']]
        assertLogContains('suspectChanges: 1 change could explain this failure (agent linux-03; since the start')
        assertLogContains('Changes on linux-03: https://changes.example.test/agents/linux-03')
    }

    void testWithoutTheBadgePluginTheLinksAreOnlyEchoed() {
        harness.badgePluginInstalled = false
        answerThreeSuspects()

        assert suspectChanges()*.id == [12, 9, 15]
        assert harness.badges.isEmpty() && harness.summaries.isEmpty()
        assertLogContains("This build's suspects in Change Tracker: ${suspectsPage()}")

        setUp()
        harness.binding.variables.remove('addBadge')
        harness.binding.variables.remove('addSummary')
        answerThreeSuspects()
        assert suspectChanges()*.id == [12, 9, 15]
    }

    void testTitlesArePrintedOnOneLine() {
        answer(200, [agents: ['linux-07'], items: [
            item(event(3, 'Line one\nline "two" $HOME ' + 'x' * 120), 'same_agent', ['same agent linux-07'], 5)]])

        suspectChanges()

        String line = harness.log.join('\n').readLines()[1]
        assert line.startsWith('  1. [same agent] #3 Line one line "two" $HOME xxx')
        assert line.contains('... (tool_update, medium, 5s before the failure)')
    }

    void testSpansReadAsPeopleSayThem() {
        assert SuspectReport.describeSpan(0) == '0s'
        assert SuspectReport.describeSpan(59) == '59s'
        assert SuspectReport.describeSpan(60) == '1m'
        assert SuspectReport.describeSpan(8100) == '2h 15m'
        assert SuspectReport.describeSpan(86400 + 3 * 3600 + 7 * 60) == '1d 3h'
        assert SuspectReport.describeSpan(-90) == '1m'
    }

    void testWithoutTheHttpRequestPluginCurlAsksTheSameQuestion() {
        String agent = 'mac mini 2'
        LocalTracker tracker = new LocalTracker().answer(200, groovy.json.JsonOutput.toJson([agents: [agent], items: [
            item(event(21, 'Xcode 16.1 "beta" on ' + agent, [agents: [agent]]), 'same_agent', ['same agent ' + agent],
                30)]]))
        try {
            harness.httpRequestPluginInstalled = false

            List suspects = suspectChanges(agents: [agent], tools: ['xcode 16'], url: tracker.url)

            assert suspects*.id == [21]
            assert suspects[0].title == 'Xcode 16.1 "beta" on mac mini 2'
            def request = tracker.received[0]
            assert request.method == 'GET'
            assert request.header('Authorization') == 'Bearer ' + TOKEN
            Map<String, List<String>> query = decodeQuery(new URI('http://tracker' + request.path).rawQuery)
            assert query.agent == [agent] && query.tool == ['xcode 16'] && query.build_url == [BUILD_ENV.BUILD_URL]
            assert harness.shellCalls.size() == 1
            assertLogContains('  1. [same agent] #21 Xcode 16.1 "beta" on mac mini 2')
        } finally {
            tracker.close()
        }
    }

    void testRealHttpSendsAnEncodedQueryAndTheMaskedToken() {
        String agent = 'mac mini #2 & co'
        LocalTracker tracker = new LocalTracker().answer(200, groovy.json.JsonOutput.toJson([agents: [agent], items: [
            item(event(21, 'Xcode 16.1 on ' + agent, [agents: [agent]]), 'same_agent', ['same agent ' + agent], 30)]]))
        try {
            harness.transport = { Map args -> HttpRequestStandIn.send(args, { harness.log << it }) }

            List suspects = suspectChanges(agents: [agent], tools: ['xcode 16'], url: tracker.url + '/')

            assert suspects*.id == [21]
            assert suspects[0].url == tracker.url + '/events/21'
            def request = tracker.received[0]
            assert request.method == 'GET'
            assert request.header('Authorization') == 'Bearer ' + TOKEN
            assert request.header('Accept') == 'application/json'
            URI uri = new URI('http://tracker' + request.path)
            assert uri.path == '/api/v1/suspects'
            Map<String, List<String>> query = decodeQuery(uri.rawQuery)
            assert query.agent == [agent]
            assert query.tool == ['xcode 16']
            assert query.build_url == [BUILD_ENV.BUILD_URL]
            assertLogContains("Changes on ${agent}: ${tracker.url}/agents/mac%20mini%20%232%20%26%20co")
            assertNoSecretEchoed()
        } finally {
            tracker.close()
        }
    }
}
