import java.time.Instant

/** Bodies of GET /api/v1/suspects as the tracker answers them (app/correlation/suspects.py SuspectsSchema). */
class SuspectAnswers {
    /** An event as the answer nests it (EventSchema), with the fields suspectChanges reads. */
    static Map event(int id, String title, Map extra = [:]) {
        return [id         : id, title: title, type: 'tool_update', severity: 'medium', source: 'pipeline',
                occurred_at: '2026-11-20T10:00:00+00:00', ended_at: null, agents: ['linux-07'], tools: ['jdk17'],
                toolchains : [], tags: [], build_url: null, count: 1] + extra
    }

    static Map item(Map event, String rank, List<String> reasons, long secondsBefore, BigDecimal score = 310.5) {
        return [event: event, rank: rank, score: score, reasons: reasons, seconds_before: secondsBefore,
                reverted_by: []]
    }

    /** For linux-07: one change on it, one on a sibling with the same JDK, one outage of the whole fleet. */
    static Map threeSuspects(Instant since) {
        return [agents: ['linux-07'], since: since.toString(), before: Instant.now().toString(), items: [
            item(event(12, 'Temurin 17.0.12 on linux-07'), 'same_agent', ['same agent linux-07'], 8100),
            item(event(15, 'Temurin 17.0.12 on linux-08', [agents: ['linux-08']]), 'same_tool',
                ['same tool jdk17 as recent changes on linux-07'], 86400 + 3 * 3600, 205.1),
            item(event(9, 'Artifact proxy down', [type: 'outage', severity: 'high', agents: [], tools: []]),
                'fleet_wide', ['fleet-wide: names no agent'], 40, 120.0),
        ]]
    }
}
