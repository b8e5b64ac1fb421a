/* groovylint-disable SystemExit, SystemErrPrint */
// A command-line runner: like Jenkins, it reports a failed pipeline on stderr and in its exit status.
/*
 * Runs a Jenkinsfile-like script through the pipeline harness, with real HTTP, as a build would:
 *
 *   groovy jenkins-shared-library/test/runPipeline.groovy CONTEXT.json PIPELINE.groovy
 *
 * CONTEXT.json: {"env": {"BUILD_URL": ..., "CHANGETRACKER_URL": ...}, "credentials": {"change-tracker-token": ...},
 *                "badgePlugin": true, "httpRequestPlugin": true, "realSleep": true,
 *                "agent": {"name": "linux-07", "labels": "linux docker"}, "workspace": "/path/to/workspace",
 *                "previousSuccessfulBuild": {"number": 127, "startTimeInMillis": ...}}
 * (node { } and a Declarative agent run on "agent", in "workspace"; sh runs real shell scripts there).
 * (a file rather than arguments, so no secret shows in the process list).
 *
 * Echoed lines go to stdout as they come; the last stdout line is
 *   PIPELINE-RESULT {"result": "SUCCESS" | "FAILURE" | "ABORTED", "value": <what the script returned>, ...}
 * (a returned list or map as JSON, anything else but numbers and booleans as its string).
 * A failed pipeline prints "ERROR: <message>" on stderr, as Jenkins does, and exits 1.
 */
import groovy.json.JsonOutput
import groovy.json.JsonSlurperClassic

if (args.length != 2) {
    System.err.println 'usage: runPipeline.groovy CONTEXT.json PIPELINE.groovy'
    System.exit(2)
}
File testDir = new File(getClass().protectionDomain.codeSource.location.toURI()).parentFile.canonicalFile
GroovyClassLoader loader = new GroovyClassLoader(getClass().classLoader)
loader.addClasspath(new File(testDir, 'groovy').path)

Map context = (Map) new JsonSlurperClassic().parse(new File(args[0]), 'UTF-8')
File pipeline = new File(args[1])

def harness = loader.loadClass('PipelineHarness').newInstance(testDir.parentFile)
harness.env.putAll((Map) (context.env ?: [:]))
harness.credentials.putAll((Map) (context.credentials ?: [:]))
harness.badgePluginInstalled = context.badgePlugin != false
harness.httpRequestPluginInstalled = context.httpRequestPlugin != false
if (context.agent instanceof Map) {
    harness.agent.putAll((Map) context.agent)
}
if (context.workspace) {
    harness.workspace = new File(context.workspace.toString())
}
harness.realSleep = context.realSleep != false
harness.printLog = true
Map lastSuccess = context.previousSuccessfulBuild instanceof Map ? (Map) context.previousSuccessfulBuild : null
if (lastSuccess) {
    def previous = loader.loadClass('RunStandIn').newInstance()
    previous.number = lastSuccess.number as int
    previous.startTimeInMillis = lastSuccess.startTimeInMillis as long
    harness.currentBuild.previousSuccessfulBuild = previous
}

Object value = null
Throwable failure = null
try {
    value = harness.runPipeline(pipeline.getText('UTF-8'), pipeline.name - '.groovy')
} catch (Throwable e) {  // groovylint-disable-line CatchThrowable
    // Whatever the pipeline throws is its result, as in Jenkins.
    failure = e
} finally {
    harness.close()
}
System.out.flush()
if (failure != null) {
    System.err.println "ERROR: ${failure.message ?: failure.getClass().name}"
}
Map summary = [
    result      : harness.currentBuild.result,
    value       : value == null || value instanceof Number || value instanceof Boolean || value instanceof Collection ||
        value instanceof Map ? value : String.valueOf(value),
    error       : failure?.message,
    badges      : harness.badges,
    summaries   : harness.summaries,
    httpRequests: harness.httpRequests.size(),  // never their arguments: they carry the token
    shellCalls  : harness.shellCalls.size(),
    sleeps      : harness.sleeps,
]
println 'PIPELINE-RESULT ' + JsonOutput.toJson(summary)
System.exit(failure == null ? 0 : 1)
