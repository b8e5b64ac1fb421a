import java.time.Instant

/** Bodies of GET /api/v1/suspects as the tracker answers them (app/correlation/suspects.py SuspectsSchema). */
class SuspectAnswers {
    /** An event as the answer nests it (EventSchema), with the fields suspectChanges reads. */
    static Map event(int id, String title, Map extra = [:]) {
        return [id         : id, title: title, type: 'tool_update', severity: 'medium', source: 'pipeline',
                occurred_at: '2026-11-20T10:00:00+00:00', ended_at: null, agents: ['linux-07'], tools: ['jdk17'],
                toolchains : [], tags: [], build_url: null, count: 1] + extra
    }

    /**
     * A suspect as the answer lists it: its reasons each with a weight, and their summary. {@code scored} may hold
     * its score, summary and weights (1.0 for the reasons it leaves out).
     */
    static Map item(Map event, String rank, List<String> reasons, long secondsBefore, Map scored = [:]) {
        List weights = scored.weights ?: []
        List evidence = reasons.withIndex().collect { String reason, int i ->
            [rule: i == 0 ? 'scope' : 'kind', reason: reason, label: '', weight: i < weights.size() ? weights[i] : 1.0]
        }
        return [event: event, rank: rank, score: scored.score ?: 98.5, reasons: reasons, evidence: evidence,
                summary: scored.summary ?: reasons.join(', '), seconds_before: secondsBefore, reverted_by: []]
    }

    /** For linux-07: one change on it (unplanned), one outage of the whole fleet, one on a sibling with its JDK. */
    static Map threeSuspects(Instant since) {
        return [agents: ['linux-07'], since: since.toString(), before: Instant.now().toString(), items: [
            item(event(12, 'Temurin 17.0.12 on linux-07', [unplanned: true]), 'same_agent',
                ['same agent linux-07', 'strong change: tool update', 'severity medium', '2h 15m before the failure',
                 'unplanned: detected, with no intent recorded before it'], 8100,
                [score  : 147.15, summary: 'same agent, strong change, 2h 15m before, unplanned',
                 weights: [1.0, 1.0, 1.0, 0.981, 1.5]]),
            item(event(9, 'Artifact proxy down', [type: 'outage', severity: 'high', agents: [], tools: []]),
                'fleet_wide', ['names no agent: an outage of a shared service reaches every build'], 40,
                [score: 103.9, summary: 'every build, strong change, high severity, ended 40s before', weights: [0.8]]),
            item(event(15, 'Temurin 17.0.12 on linux-08', [agents: ['linux-08']]), 'same_tool',
                ['names other agents only, not linux-07', 'tool jdk17 named in the query'], 86400 + 3 * 3600,
                [score: 30.1, summary: 'other agents, strong change, 1d 3h before', weights: [0.35]]),
        ]]
    }
}
