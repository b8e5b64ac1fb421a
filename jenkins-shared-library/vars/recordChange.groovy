import io.changetracker.ChangeRequest
import io.changetracker.RetryPolicy
import io.changetracker.TrackerLinks
import io.changetracker.TrackerResponse

/**
 * Records a change (a JDK upgrade, a plugin update, an outage...) in Change Tracker; see recordChange.txt.
 *
 *   recordChange(title: 'JDK 17.0.12 on linux agents', type: 'tool_update', tools: ['jdk17'])
 *   recordChange(title: 'Upgrade Docker to 27.3', type: 'tool_update') { sh './upgrade-docker.sh' }
 *
 * Returns the event id, or null when the tracker could not record it (unless failOnError: true).
 * The block form records one event spanning the block, with its outcome, and rethrows the block's failure.
 */
def call(Map config = [:], Closure body = null) {
    Map defaultConfig = [
        // What changed, in one line (1-200 characters). Required.
        title        : null,
        // One of: agent_config, tool_update, toolchain_change, docker_image, plugin_update, jenkins_core,
        // package_update, outage, rollback, maintenance, deployment, note.
        type         : 'note',
        // One of: info, low, medium, high, critical. A block that fails raises it to at least high.
        severity     : 'info',
        // Agents the change touched: by default the one this step runs on (none outside a node block).
        agents       : env.NODE_NAME ? [env.NODE_NAME] : [],
        // Tools (jdk17, maven-3.9, a plugin, an image...) and toolchains the change touched.
        tools        : [],
        toolchains   : [],
        // Free-form labels for searching, e.g. ['jdk', 'security'].
        tags         : [],
        // Longer explanation (plain text).
        description  : null,
        // Extra facts as a map; job, build_number, node and labels of this build are added for you.
        metadata     : [:],
        // Events with the same key within the tracker's dedupe window fold into one (count + 1).
        dedupeKey    : null,
        // A "Secret text" credential holding a Change Tracker API token with the write scope.
        credentialsId: 'change-tracker-token',
        // The tracker's base URL, e.g. https://changes.example.com.
        url          : env.CHANGE_TRACKER_URL,
        // false: a tracker that is down or refuses the event only prints a warning; the build goes on.
        failOnError  : false,
        // Seconds each HTTP attempt may take.
        timeout      : 10,
    ]
    ChangeRequest request = new ChangeRequest(ChangeRequest.withDefaults(defaultConfig, config), buildFacts())
    List<String> problems = request.problems()
    if (problems) {
        error('recordChange: ' + problems.join('; '))
    }

    if (body == null) {
        return recordEvent(request.at(ChangeRequest.now()), true)
    }

    String startedAt = ChangeRequest.now()
    Throwable failure = null
    try {
        body()
    } catch (Throwable t) {  // groovylint-disable-line CatchThrowable
        // Whatever the block throws (an AbortException, an Error, an abort) is recorded, then rethrown below.
        failure = t
    }
    // The block's own failure is what the build must report, so the tracker cannot fail the build on top of it.
    def eventId = recordEvent(request.finished(startedAt, ChangeRequest.now(), failure), failure == null)
    if (failure != null) {
        throw failure
    }
    return eventId
}

/** The few env values the event carries; read once, as plain strings. */
Map buildFacts() {
    return [JOB_NAME: env.JOB_NAME, BUILD_NUMBER: env.BUILD_NUMBER, BUILD_URL: env.BUILD_URL, NODE_NAME: env.NODE_NAME,
            NODE_LABELS: env.NODE_LABELS]
}

/** Sends the event; returns its id, or null after a warning (or fails the build when failOnError allows). */
def recordEvent(ChangeRequest request, boolean mayFailBuild) {
    TrackerResponse response = sendWithRetries(request, new RetryPolicy())
    if (response.ok) {
        String eventUrl = request.eventUrl(response.eventId)
        echo((response.folded ? 'recordChange: folded into existing event ' : 'recordChange: recorded event ') +
            eventUrl)
        addEventBadge(eventUrl, request.title)
        return response.eventId
    }
    String problem = "recordChange: could not record '" + request.title + "': " + response.problem
    if (request.failOnError && mayFailBuild) {
        error(problem)
    }
    echo('WARNING: ' + problem + (request.failOnError ? '' : ' (the build goes on; failOnError: true would fail it)'))
    return null
}

TrackerResponse sendWithRetries(ChangeRequest request, RetryPolicy retry) {
    String body = request.toJson()
    TrackerResponse response = null
    try {
        withCredentials([string(credentialsId: request.credentialsId, variable: 'CHANGE_TRACKER_TOKEN')]) {
            for (int attempt = 1; attempt <= retry.attempts; attempt++) {
                response = sendOnce(request, body)
                if (!retry.shouldRetry(attempt, response)) {
                    break
                }
                int pause = retry.pauseSeconds(attempt)
                echo('recordChange: attempt ' + attempt + ' of ' + retry.attempts + ' failed: ' + response.problem +
                    '; trying again in ' + pause + ' s')
                sleep(time: pause, unit: 'SECONDS')
            }
        }
    } catch (InterruptedException e) {
        throw e  // an aborted build stays aborted
    } catch (Exception e) {  // groovylint-disable-line CatchException
        // Most likely the credential: missing, or not a Secret text.
        response = TrackerResponse.unusable("could not use credentials '" + request.credentialsId + "' (" +
            e.getClass().simpleName + (e.message ? ': ' + e.message : '') + ')')
    }
    return response
}

TrackerResponse sendOnce(ChangeRequest request, String body) {
    try {
        def answer = httpRequest(url: request.endpoint, httpMode: 'POST', contentType: 'APPLICATION_JSON_UTF8',
            requestBody: body,
            // Built by a @NonCPS method, never interpolated: the secret stays out of GStrings, locals and the console.
            customHeaders: [[name: 'Authorization', value: TrackerLinks.authorization(env.CHANGE_TRACKER_TOKEN),
                             maskValue: true]],
            validResponseCodes: '100:599', timeout: request.timeout, quiet: true)
        return TrackerResponse.of(answer.status as int, answer.content as String, request.credentialsId)
    } catch (InterruptedException e) {
        throw e
    } catch (NoSuchMethodError e) {
        return TrackerResponse.unusable('no httpRequest step: install the HTTP Request plugin')
    } catch (Exception e) {  // groovylint-disable-line CatchException
        // Whatever httpRequest throws (connection refused, timeout, TLS): a warning, and maybe a retry.
        return TrackerResponse.unreachable(request.endpoint, e, env.CHANGE_TRACKER_TOKEN)
    }
}

/** A link on the build page when the Badge plugin is installed; the echoed URL is enough otherwise. */
def addEventBadge(String eventUrl, String title) {
    try {
        addBadge(icon: 'info.gif', text: 'Change Tracker: ' + title, link: eventUrl)
    } catch (NoSuchMethodError ignored) {
        // Jenkins without the Badge plugin: "No such DSL method 'addBadge'".
    } catch (MissingMethodException ignored) {
        // The same outside Jenkins.
    }
}
