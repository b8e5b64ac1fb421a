package io.changetracker

import com.cloudbees.groovy.cps.NonCPS

/**
 * The tracker's answer to a SuspectQuery: the ranked suspects as plain maps (what suspectChanges returns), or a
 * problem worth a warning. Also renders them for the console and the badge. Built from the HTTP status and text
 * only, so no plugin object outlives the request.
 */
class SuspectReport implements Serializable {
    private static final long serialVersionUID = 1L

    /** The tracker's ranks, as people say them. */
    static final Map<String, String> RANK_LABELS = [same_agent: 'same agent', same_tool: 'same tool',
                                                    fleet_wide: 'fleet-wide'].asImmutable()
    static final int TITLE_MAX = 100

    /** The HTTP status, or 0 when no answer came. */
    final int status
    /**
     * Best first; each [id, title, type, severity, occurredAt, endedAt, agents, tools, toolchains, unplanned, rank,
     * score, summary, reasons, evidence, secondsBefore, revertedBy, url].
     */
    final List<Map> suspects
    /** The agents the tracker searched (from agents:, or found through the build's URL). */
    final List<String> agents
    /** Human-readable and safe to echo: it never contains the token. Null when the tracker answered. */
    final String problem

    private SuspectReport(int status, List<Map> suspects, List<String> agents, String problem) {
        this.status = status
        this.suspects = suspects
        this.agents = agents
        this.problem = problem
    }

    /** Reads callChangeTracker's answer to {@code query}: no answer at all (status 0), or the tracker's. */
    @NonCPS
    static SuspectReport of(Map answer, SuspectQuery query) {
        int status = answer.status as int
        return status == 0 ? failed(0, answer.problem) : of(status, answer.content as String, query)
    }

    /** Reads the tracker's answer to {@code query}: 200 with {agents, since, before, items}, or an error. */
    @NonCPS
    static SuspectReport of(int status, String content, SuspectQuery query) {
        String answered = TrackerResponse.describeAnswer(status, content)
        if (status == 200) {
            def body = TrackerResponse.parse(content)
            if (!(body instanceof Map) || !(body.items instanceof List)) {
                return failed(status, "Change Tracker answered ${answered} without a list of suspects")
            }
            List<Map> suspects = ((List) body.items)
                .findAll { item -> item instanceof Map && item.event instanceof Map }
                .collect { Map item -> flatten(item, query.links) }
            List<String> agents = StepParameters.names(body.agents)
            return new SuspectReport(status, suspects, agents, null)
        }
        if (status == 401) {
            return failed(status, TrackerResponse.refusedToken(query.credentialsId, answered))
        }
        if (status == 403) {
            return failed(status, "the token in credentials '${query.credentialsId}' may not read events " +
                "(${answered}); it needs the read scope")
        }
        if (status == 422) {
            String hint = query.agents ? '' : "; pass agents: ['<the agent the build ran on>']"
            return failed(status, "Change Tracker could not search for suspects (${answered})${hint}")
        }
        return failed(status, "Change Tracker answered ${answered}")
    }

    @NonCPS
    boolean isOk() {
        return problem == null
    }

    /** What the console shows: the suspects ranked, each with its reasons and link, then the pages to go on. */
    @NonCPS
    String render(SuspectQuery query) {
        String scope = query.describe(agents)
        List<String> lines = []
        if (suspects.isEmpty()) {
            lines << ('suspectChanges: Change Tracker knows no change that could explain this failure (' + scope + ').')
        } else {
            String count = suspects.size() == 1 ? '1 change' : "${suspects.size()} changes"
            lines << "suspectChanges: ${count} could explain this failure (${scope}), most likely first:".toString()
            suspects.eachWithIndex { Map suspect, int index ->
                lines << ("  ${index + 1}. [${RANK_LABELS[suspect.rank] ?: suspect.rank}] #${suspect.id} " +
                    "${oneLine(suspect.title)} (${suspect.type}, ${suspect.severity}, " +
                    "${describeSpan(suspect.secondsBefore as long)} before the failure)").toString()
                lines << "       why: ${why(suspect)}".toString()
                lines << "       ${suspect.url}".toString()
            }
            if (suspects.size() >= query.limit) {
                lines << "  Only the first ${query.limit} are shown (limit: ${query.limit}).".toString()
            }
        }
        lines << ("  This build's suspects in Change Tracker: " + query.pageUrl)
        (query.agents ?: agents).each { String name ->
            lines << "  Changes on ${name}: ${query.links.agent(name)}".toString()
        }
        return lines.join('\n')
    }

    /** The build badge's text: how many suspects, and the most likely one. */
    @NonCPS
    String badgeText() {
        if (suspects.isEmpty()) {
            return 'Change Tracker: no suspect changes'
        }
        Map top = suspects[0]
        String count = suspects.size() == 1 ? '1 suspect change' : "${suspects.size()} suspect changes"
        return "Change Tracker: ${count}; most likely #${top.id} ${oneLine(top.title)}".toString()
    }

    /**
     * The failed build's summary line: the most likely suspect and why, in plain words; its link is the suspect's
     * page. Null when there is no suspect.
     */
    @NonCPS
    String summaryText() {
        if (suspects.isEmpty()) {
            return null
        }
        Map top = suspects[0]
        String others = suspects.size() == 1 ? 'the only suspect' : "1 of ${suspects.size()} suspects"
        return "Change Tracker: most likely #${top.id} ${oneLine(top.title)} (${why(top)}; ${others})".toString()
    }

    /** A suspect's evidence in plain words ("same agent, strong change, 3h before, unplanned") and its score. */
    @NonCPS
    static String why(Map suspect) {
        String words = suspect.summary ?: (suspect.reasons as List).join('; ')
        return suspect.score instanceof Number ? "${words}; score ${formatScore(suspect.score as BigDecimal)}" : words
    }

    @NonCPS
    private static String formatScore(BigDecimal score) {
        return score.setScale(0, BigDecimal.ROUND_HALF_UP).toPlainString()
    }

    /** ``8100`` is "2h 15m": the two largest units, as people say it (as the tracker's describe_span). */
    @NonCPS
    static String describeSpan(long seconds) {
        long left = Math.abs(seconds)
        if (left < 60) {
            return "${left}s".toString()
        }
        List<String> parts = []
        [[unit: 'd', size: 86400L], [unit: 'h', size: 3600L], [unit: 'm', size: 60L]].each { Map step ->
            if (left >= (step.size as long)) {
                parts << "${left.intdiv(step.size as long)}${step.unit}".toString()
                left = left % (step.size as long)
            }
        }
        return parts.take(2).join(' ')
    }

    @NonCPS
    private static SuspectReport failed(int status, Object problem) {
        return new SuspectReport(status, [], [], problem.toString())
    }

    /** One item of the answer as a flat map of plain values, with the event's page in the tracker. */
    @NonCPS
    private static Map flatten(Map item, TrackerLinks links) {
        Map event = (Map) item.event
        return [
            id           : event.id,
            title        : event.title == null ? '' : event.title.toString(),
            type         : event.type,
            severity     : event.severity,
            occurredAt   : event.occurred_at,
            endedAt      : event.ended_at,
            agents       : StepParameters.names(event.agents),
            tools        : StepParameters.names(event.tools),
            toolchains   : StepParameters.names(event.toolchains),
            unplanned    : event.unplanned == true,
            rank         : item.rank,
            score        : item.score,
            summary      : item.summary instanceof CharSequence ? item.summary.toString() : '',
            reasons      : item.reasons instanceof List ? ((List) item.reasons).collect { it.toString() } : [],
            evidence     : item.evidence instanceof List ? ((List) item.evidence).findAll { it instanceof Map }
                .collect { Map piece -> [rule  : String.valueOf(piece.rule), reason: String.valueOf(piece.reason),
                                         weight: piece.weight] } : [],
            secondsBefore: item.seconds_before instanceof Number ? item.seconds_before as long : 0L,
            revertedBy   : item.reverted_by instanceof List ? item.reverted_by : [],
            url          : links.event(event.id),
        ]
    }

    /** A title on one line and not too long: the console and the badge are no place for paragraphs. */
    @NonCPS
    private static String oneLine(Object text) {
        String line = String.valueOf(text).replaceAll(/\s+/, ' ').trim()
        return line.length() > TITLE_MAX ? line.take(TITLE_MAX - 3) + '...' : line
    }
}
