import io.changetracker.ChangeRequest
import io.changetracker.RetryPolicy
import io.changetracker.StepParameters
import io.changetracker.TrackerResponse

/**
 * Records a change (a JDK upgrade, a plugin update, an outage...) in Change Tracker; see recordChange.txt.
 *
 *   recordChange(title: 'JDK 17.0.12 on linux agents', type: 'tool_update', tools: ['jdk17'])
 *   recordChange(title: 'Upgrade Docker to 27.3', type: 'tool_update') { sh './upgrade-docker.sh' }
 *
 * Returns the event id, or null when the tracker could not record it (unless failOnError: true).
 * The block form records the event when the block starts, then its end and outcome when it ends (a failure raises
 * the severity and records the error), and rethrows the block's failure.
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
        // A "Secret text" credential holding a Change Tracker API token with the record scope (append-only).
        credentialsId: 'change-tracker-token',
        // The tracker's base URL, e.g. https://changes.example.com.
        url          : env.CHANGETRACKER_URL,
        // false: a tracker that is down or refuses the event only prints a warning; the build goes on.
        failOnError  : false,
        // Seconds each HTTP attempt may take.
        timeout      : 10,
    ]
    ChangeRequest request = new ChangeRequest(StepParameters.withDefaults(defaultConfig, config), buildFacts())
    List<String> problems = request.problems()
    if (problems) {
        error('recordChange: ' + problems.join('; '))
    }

    if (body == null) {
        return recordEvent(request.at(StepParameters.now()), true)
    }

    String startedAt = StepParameters.now()
    def startedId = recordStart(request.started(startedAt))
    Throwable failure = null
    try {
        body()
    } catch (Throwable t) {  // groovylint-disable-line CatchThrowable
        // Whatever the block throws (an AbortException, an Error, an abort) is recorded, then rethrown below.
        failure = t
    }
    // The block's own failure is what the build must report, so the tracker cannot fail the build on top of it.
    ChangeRequest finished = request.finished(startedAt, StepParameters.now(), failure)
    def eventId = startedId == null ? recordEvent(finished, failure == null) :
        recordEnd(finished, startedId, failure == null)
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
    TrackerResponse response = send(request, 'POST', ChangeRequest.EVENTS_PATH, request.toJson(), new RetryPolicy())
    if (response.ok) {
        String eventUrl = request.eventUrl(response.eventId)
        echo((response.folded ? 'recordChange: folded into existing event ' : 'recordChange: recorded event ') +
            eventUrl)
        addEventBadge(eventUrl, request.title)
        return response.eventId
    }
    warnOrFail("could not record '" + request.title + "': " + response.problem, request, mayFailBuild)
    return null
}

/**
 * A block's event as it starts, so the change shows in the tracker while it happens. One attempt: the block does not
 * wait for a tracker that is down; its event is then recorded whole when the block ends. Returns the id or null.
 */
def recordStart(ChangeRequest request) {
    TrackerResponse response = send(request, 'POST', ChangeRequest.EVENTS_PATH, request.toJson(), new RetryPolicy(1))
    if (response.ok) {
        String eventUrl = request.eventUrl(response.eventId)
        echo((response.folded ? 'recordChange: started, folded into existing event ' :
            'recordChange: started event ') + eventUrl)
        addEventBadge(eventUrl, request.title)
        return response.eventId
    }
    echo("recordChange: could not record the start of '" + request.title + "' (" + response.problem +
        '); recording it when the block ends')
    return null
}

/** The end of a block's event: when it ended, the outcome, and the raised severity and error of a failure. */
def recordEnd(ChangeRequest request, Object eventId, boolean mayFailBuild) {
    TrackerResponse response = send(request, 'PATCH', ChangeRequest.eventPath(eventId), request.endJson(),
        new RetryPolicy())
    String eventUrl = request.eventUrl(eventId)
    if (response.ok) {
        echo('recordChange: ended event ' + eventUrl + ' (' + request.outcome + ')')
    } else {
        warnOrFail("could not record the end of '" + request.title + "' (" + eventUrl + '): ' + response.problem,
            request, mayFailBuild)
    }
    return eventId
}

/** A change the tracker did not take: a warning, or a failed build with failOnError (unless a failed block wins). */
def warnOrFail(String problem, ChangeRequest request, boolean mayFailBuild) {
    if (request.failOnError && mayFailBuild) {
        error('recordChange: ' + problem)
    }
    echo('WARNING: recordChange: ' + problem +
        (request.failOnError ? '' : ' (the build goes on; failOnError: true would fail it)'))
}

/** One request through callChangeTracker, tried again after a pause while the tracker may come back. */
TrackerResponse send(ChangeRequest request, String method, String path, String body, RetryPolicy retry) {
    TrackerResponse response = null
    for (int attempt = 1; attempt <= retry.attempts; attempt++) {
        Map answer = callChangeTracker(method: method, path: path, body: body, url: request.baseUrl,
            credentialsId: request.credentialsId, timeout: request.timeout)
        response = TrackerResponse.of(answer, request.credentialsId)
        if (!retry.shouldRetry(attempt, response)) {
            break
        }
        int pause = retry.pauseSeconds(attempt)
        echo('recordChange: attempt ' + attempt + ' of ' + retry.attempts + ' failed: ' + response.problem +
            '; trying again in ' + pause + ' s')
        sleep(time: pause, unit: 'SECONDS')
    }
    return response
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
