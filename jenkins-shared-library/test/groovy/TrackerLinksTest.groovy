import io.changetracker.TrackerLinks

/** The tracker's pages that Jenkins links to, built in one place (their pages answer: tests/jenkins). */
class TrackerLinksTest extends GroovyTestCase {
    final TrackerLinks links = new TrackerLinks(' https://changes.example.test// ')

    void testDeepLinksAreEncodedForWhereTheyGo() {
        assert links.baseUrl == 'https://changes.example.test'
        assert links.event(12) == 'https://changes.example.test/events/12'
        assert links.agent('mac mini #2/ü') == 'https://changes.example.test/agents/mac%20mini%20%232%2F%C3%BC'
        assert links.eventsOnAgent('mac mini #2') == 'https://changes.example.test/events?agent=mac+mini+%232'
        assert links.suspectsOfBuild('https://jenkins.example.test/job/a b/7/') ==
            'https://changes.example.test/suspects?build_url=https%3A%2F%2Fjenkins.example.test%2Fjob%2Fa+b%2F7%2F'
    }

    void testTheTokenIsTrimmedIntoTheHeaderAndRedactedFromText() {
        assert TrackerLinks.authorization(' ct_x\n') == 'Bearer ct_x'
        assert TrackerLinks.authorization(null) == 'Bearer '
        assert TrackerLinks.redact('header Bearer ct_x', 'ct_x\n') == 'header Bearer ****'
        assert TrackerLinks.redact('nothing', null) == 'nothing'
        assert TrackerLinks.redact(null, 'ct_x') == null
    }
}
