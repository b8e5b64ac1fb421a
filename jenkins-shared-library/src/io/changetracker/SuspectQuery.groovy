package io.changetracker

import com.cloudbees.groovy.cps.NonCPS

import java.time.Instant
import java.time.OffsetDateTime
import java.time.format.DateTimeParseException
import java.time.temporal.ChronoUnit

/**
 * What suspectChanges asks GET /api/v1/suspects: which agents and tools, the period (from the job's last
 * successful build, or since:, up to the failure) and the build's URL. It checks the step's parameters and
 * builds the request's path and query, and the tracker's page asking the same; it holds only strings, numbers,
 * lists and maps, so it survives CPS serialisation.
 */
class SuspectQuery implements Serializable {
    private static final long serialVersionUID = 1L

    /** Every parameter the step understands. */
    static final List<String> PARAMETERS = ['agents', 'tools', 'toolchains', 'since', 'limit', 'credentialsId', 'url',
                                            'timeout'].asImmutable()

    /** The tracker looks back at most this far (app/correlation/suspects.py MAX_LOOKBACK). */
    static final int MAX_LOOKBACK_DAYS = 90
    /** What the tracker searches when no since is sent (DEFAULT_LOOKBACK). */
    static final int DEFAULT_LOOKBACK_DAYS = 7
    static final int MAX_LIMIT = 200
    static final int DEFAULT_LIMIT = 10
    /** The API path this query asks. */
    static final String SUSPECTS_PATH = '/api/v1/suspects'

    private final Map config
    private final Map build
    private final Map lastSuccess
    private final String before

    /**
     * @param config the step's parameters, defaults already merged
     * @param build the running build's env values NODE_NAME and BUILD_URL
     * @param lastSuccess the job's last successful build as [number:, startTimeInMillis:], or [:] for none
     * @param before when the build failed (now), ISO 8601 in UTC
     */
    SuspectQuery(Map config, Map build, Map lastSuccess, String before) {
        this.config = StepParameters.plainCopy(config)
        this.build = StepParameters.plainCopy(build)
        this.lastSuccess = StepParameters.plainCopy(lastSuccess)
        this.before = before
    }

    /** Every problem with the parameters, each naming its parameter; empty when the query can be sent. */
    @NonCPS
    List<String> problems() {
        List<String> problems = StepParameters.unknownProblems(config, PARAMETERS)
        ['agents', 'tools', 'toolchains'].each { String name ->
            problems.addAll(StepParameters.nameProblems(name, config[name], StepParameters.NAME_MAX))
        }
        problems.addAll(StepParameters.connectionProblems(config))
        Integer limit = StepParameters.positiveInteger(config.limit)
        if (limit == null || limit > MAX_LIMIT) {
            problems << "limit must be a whole number from 1 to ${MAX_LIMIT} (got '${config.limit}')".toString()
        }
        if (config.since != null) {
            Instant since = instantOf(config.since)
            if (since == null) {
                problems << ("since must be a time: ISO 8601 with an offset such as '2026-11-20T01:00:00Z', " +
                    "epoch milliseconds or a Date (got '${config.since}')").toString()
            } else if (!since.isBefore(Instant.parse(before))) {
                problems << "since must be before now (${before}), got '${config.since}'".toString()
            }
        }
        if (problems.isEmpty() && !agents && !tools && !buildUrl) {
            problems << ('nothing to ask about: no agent (NODE_NAME is unset outside a node block), no tools and ' +
                'no BUILD_URL; pass agents: or tools:')
        }
        return problems
    }

    /** The agents asked about: agents: or, by default, the one this build runs on. */
    @NonCPS
    List<String> getAgents() {
        return StepParameters.names(config.agents)
    }

    /** Tools and toolchains together: the tracker matches tool= against both. */
    @NonCPS
    List<String> getTools() {
        Set<String> all = new LinkedHashSet<String>(StepParameters.names(config.tools))
        all.addAll(StepParameters.names(config.toolchains))
        return new ArrayList<String>(all)
    }

    /** This build's URL when it looks like one; the tracker keys the build's suspects page by it. */
    @NonCPS
    String getBuildUrl() {
        String url = build.BUILD_URL ? build.BUILD_URL.toString().trim() : ''
        return url ==~ /(?i)https?:\/\/\S+/ ? url : null
    }

    @NonCPS
    String getBefore() {
        return before
    }

    @NonCPS
    String getCredentialsId() {
        return StepParameters.credentialsId(config.credentialsId)
    }

    @NonCPS
    int getLimit() {
        return StepParameters.positiveInteger(config.limit) ?: DEFAULT_LIMIT
    }

    @NonCPS
    int getTimeout() {
        return StepParameters.timeout(config.timeout)
    }

    @NonCPS
    String getBaseUrl() {
        return StepParameters.baseUrl(config.url)
    }

    @NonCPS
    TrackerLinks getLinks() {
        return new TrackerLinks(baseUrl)
    }

    /**
     * The start of the period: since: when given, else the start of the job's last successful build, else
     * null (the tracker then looks back 7 days). Never more than 90 days back: the tracker refuses that.
     */
    @NonCPS
    String getSince() {
        Instant end = Instant.parse(before)
        Instant start = config.since == null ? lastSuccessStart() : instantOf(config.since)
        if (start == null || !start.isBefore(end)) {
            return null
        }
        Instant earliest = end.minus(MAX_LOOKBACK_DAYS, ChronoUnit.DAYS)
        return (start.isBefore(earliest) ? earliest : start).toString()
    }

    /**
     * When the job's last successful build started, if known: the tracker weighs what began before it (and so was
     * built successfully) less.
     */
    @NonCPS
    String getLastSuccessAt() {
        return lastSuccessStart()?.toString()
    }

    /** The path and query of GET /api/v1/suspects with this query's parameters. */
    @NonCPS
    String getRequestPath() {
        return SUSPECTS_PATH + '?' + queryString()
    }

    /**
     * The tracker's suspects page asked the same question (agents, tools, build, period), so it shows what the
     * console showed, and more: for a build that recorded nothing, build_url alone would leave its agent unknown.
     */
    @NonCPS
    String getPageUrl() {
        return links.suspects(queryString())
    }

    @NonCPS
    private String queryString() {
        List<String> parameters = []
        agents.each { String name -> parameters << 'agent=' + TrackerLinks.queryValue(name) }
        tools.each { String name -> parameters << 'tool=' + TrackerLinks.queryValue(name) }
        if (buildUrl) {
            parameters << 'build_url=' + TrackerLinks.queryValue(buildUrl)
        }
        parameters << 'before=' + TrackerLinks.queryValue(before)
        if (since) {
            parameters << 'since=' + TrackerLinks.queryValue(since)
        }
        if (lastSuccessAt) {
            parameters << 'last_success=' + TrackerLinks.queryValue(lastSuccessAt)
        }
        parameters << 'limit=' + limit
        return parameters.join('&')
    }

    /** "agent linux-07, tools jdk17; since the last successful build #127 (2026-11-20T01:02:03Z)". */
    @NonCPS
    String describe(List<String> answeredAgents) {
        List<String> names = agents ?: (answeredAgents ?: [])
        List<String> subject = []
        if (names) {
            subject << (names.size() == 1 ? 'agent ' : 'agents ') + names.join(', ')
        } else if (buildUrl && !tools) {
            subject << "this build's agents"
        }
        if (tools) {
            subject << (tools.size() == 1 ? 'tool ' : 'tools ') + tools.join(', ')
        }
        return subject.join(', ') + '; ' + describePeriod()
    }

    @NonCPS
    private String describePeriod() {
        String start = since
        if (start == null) {
            return "in the ${DEFAULT_LOOKBACK_DAYS} days before the failure".toString()
        }
        Instant asked = config.since == null ? lastSuccessStart() : instantOf(config.since)
        String limitNote = asked.toString() == start ? '' :
            " (the tracker looks back at most ${MAX_LOOKBACK_DAYS} days; asked for ${asked})"
        if (config.since != null) {
            return "since ${start}${limitNote}".toString()
        }
        return "since the start of the last successful build #${lastSuccess.number}, ${start}${limitNote}".toString()
    }

    @NonCPS
    private Instant lastSuccessStart() {
        def millis = lastSuccess?.startTimeInMillis
        return millis instanceof Number && millis > 0 ? Instant.ofEpochMilli(millis as long) : null
    }

    /** An ISO 8601 string with an offset, epoch milliseconds or a Date as an Instant; null when it is none. */
    @NonCPS
    static Instant instantOf(Object value) {
        Instant instant = null
        if (value instanceof Date) {
            instant = ((Date) value).toInstant()
        } else if (value instanceof Number) {
            instant = Instant.ofEpochMilli(value as long)
        } else if (value instanceof CharSequence) {
            String text = value.toString().trim()
            try {
                instant = text.isLong() ? Instant.ofEpochMilli(text.toLong()) : OffsetDateTime.parse(text).toInstant()
            } catch (DateTimeParseException ignored) {
                instant = null  // problems() names the parameter
            }
        }
        return instant
    }
}
