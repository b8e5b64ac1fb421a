import io.changetracker.StepParameters
import io.changetracker.SuspectQuery
import io.changetracker.SuspectReport

/**
 * In a failed build, prints the changes recorded in Change Tracker that could explain the failure: those on this
 * build's agent (and its tools) since the job's last successful build, ranked, with reasons and links; see
 * suspectChanges.txt.
 *
 *   post { failure { suspectChanges() } }
 *   post { failure { suspectChanges(tools: ['jdk17', 'maven-3.9']) } }
 *
 * Returns the suspects, best first, as maps (id, title, rank, score, summary, reasons, evidence, url, ...). With the
 * Badge plugin it also badges the build and names the most likely suspect in the build's summary. It never fails the
 * build: any problem, a bad parameter included, is a warning and an empty list.
 */
def call(Map config = [:]) {
    Map defaultConfig = [
        // Agents whose changes to look at: by default the one this build runs on (none outside a node block;
        // the tracker then finds the agents from the changes this build recorded, by its BUILD_URL).
        agents       : env.NODE_NAME ? [env.NODE_NAME] : [],
        // Tools and toolchains the build uses (jdk17, maven-3.9, a Docker image...): changes to them on other
        // agents count too.
        tools        : [],
        toolchains   : [],
        // Start of the period, when the job's last successful build is not the right one: ISO 8601 with an
        // offset, epoch milliseconds or a Date. Default: the last successful build's start (else 7 days back).
        since        : null,
        // How many suspects to ask for and print (1-200).
        limit        : 10,
        // A "Secret text" credential holding a Change Tracker API token with the read scope.
        credentialsId: 'change-tracker-token',
        // The tracker's base URL, e.g. https://changes.example.com.
        url          : env.CHANGETRACKER_URL,
        // Seconds the tracker may take to answer.
        timeout      : 10,
    ]
    List suspects = []
    try {
        suspects = findSuspects(StepParameters.withDefaults(defaultConfig, config))
    } catch (InterruptedException e) {
        throw e  // an aborted build stays aborted
    } catch (Exception e) {  // groovylint-disable-line CatchException
        // The build has already failed for its own reason: this step must never add one of its own.
        echo('WARNING: suspectChanges: ' + e.getClass().simpleName + (e.message ? ': ' + e.message : ''))
    }
    return suspects
}

/** Asks the tracker, prints the answer and badges the build; a problem is a warning and an empty list. */
List findSuspects(Map config) {
    SuspectQuery query = new SuspectQuery(config, [NODE_NAME: env.NODE_NAME, BUILD_URL: env.BUILD_URL],
        lastSuccessfulBuild(config.since == null), StepParameters.now())
    List<String> problems = query.problems()
    if (problems) {
        echo('WARNING: suspectChanges: ' + problems.join('; '))
        return []
    }
    // Once, without retries: the answer is only useful now, and the build has waited long enough.
    Map answer = callChangeTracker(path: query.requestPath, url: query.baseUrl, credentialsId: query.credentialsId,
        timeout: query.timeout)
    SuspectReport report = SuspectReport.of(answer, query)
    if (!report.ok) {
        echo('WARNING: suspectChanges: ' + report.problem)
        return []
    }
    echo(report.render(query))
    addSuspectsBadge(report, query)
    addSuspectsSummary(report)
    return report.suspects
}

/**
 * The job's last successful build as [number:, startTimeInMillis:], or [:] when there is none (or it is not
 * needed). currentBuild is a RunWrapper: previousSuccessfulBuild is another RunWrapper (or null), read here once
 * into plain values.
 */
Map lastSuccessfulBuild(boolean needed) {
    Map lastSuccess = [:]
    if (!needed) {
        return lastSuccess
    }
    try {
        def previous = currentBuild.previousSuccessfulBuild
        if (previous != null) {
            lastSuccess = [number: previous.number as Integer, startTimeInMillis: previous.startTimeInMillis as Long]
        }
    } catch (InterruptedException e) {
        throw e
    } catch (Exception e) {  // groovylint-disable-line CatchException
        // An old workflow-support without previousSuccessfulBuild, or a sandbox refusing it.
        echo('suspectChanges: cannot read the last successful build (' + e.getClass().simpleName +
            '); looking back the tracker\'s default 7 days')
    }
    return lastSuccess
}

/**
 * With the Badge plugin (2.x), a line in the failed build's summary naming the most likely suspect and why, linking
 * to its page in the tracker; without it, the console and the badge say the same.
 */
def addSuspectsSummary(SuspectReport report) {
    if (report.suspects.isEmpty()) {
        return
    }
    try {
        addSummary(icon: 'warning.gif', text: report.summaryText(), link: report.suspects[0].url)
    } catch (NoSuchMethodError ignored) {
        // Jenkins without the Badge plugin 2.x: "No such DSL method 'addSummary'".
    } catch (MissingMethodException ignored) {
        // The same outside Jenkins.
    }
}

/** With the Badge plugin, a badge on the build linking to its suspects; without it, the echoed links do. */
def addSuspectsBadge(SuspectReport report, SuspectQuery query) {
    if (report.suspects.isEmpty()) {
        return
    }
    try {
        addBadge(icon: 'warning.gif', text: report.badgeText(), link: query.pageUrl)
    } catch (NoSuchMethodError ignored) {
        // Jenkins without the Badge plugin: "No such DSL method 'addBadge'".
    } catch (MissingMethodException ignored) {
        // The same outside Jenkins.
    }
}
