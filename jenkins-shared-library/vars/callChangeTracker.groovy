import io.changetracker.ApiRequest
import io.changetracker.CurlCommand
import io.changetracker.LibraryVersion
import io.changetracker.StepParameters
import io.changetracker.TrackerLinks

/**
 * Sends one request to Change Tracker's API with the token of a credential, and returns the answer as plain values;
 * see callChangeTracker.txt. recordChange and suspectChanges talk to the tracker through it.
 *
 *   def answer = callChangeTracker(path: '/api/v1/events?agent=linux-07&limit=5')
 *   if (answer.status == 200) { echo answer.content }
 *
 * Transport: the HTTP Request plugin's httpRequest; on a Jenkins without that plugin, curl on the (Unix) agent.
 * Returns [status:, content:, transport:] when the tracker answered, whatever the status, or [status: 0, problem:,
 * retryable:] when no answer came. It fails the build only for bad parameters.
 */
def call(Map config = [:]) {
    Map defaultConfig = [
        // GET, POST, PUT, PATCH or DELETE.
        method       : 'GET',
        // The API path and query, e.g. '/api/v1/suspects?agent=linux-07'. Required.
        path         : null,
        // The request's JSON: text, or a map or list to send as JSON. None by default.
        body         : null,
        // A "Secret text" credential holding a Change Tracker API token (read scope to read, record to record).
        credentialsId: 'change-tracker-token',
        // The tracker's base URL, e.g. https://changes.example.com.
        url          : env.CHANGETRACKER_URL,
        // Seconds the request may take.
        timeout      : 10,
    ]
    ApiRequest request = new ApiRequest(StepParameters.withDefaults(defaultConfig, config))
    List<String> problems = request.problems()
    if (problems) {
        error('callChangeTracker: ' + problems.join('; '))
    }
    Map answer = null
    try {
        withCredentials([string(credentialsId: request.credentialsId, variable: 'CHANGETRACKER_TOKEN')]) {
            answer = send(request)
        }
    } catch (InterruptedException e) {
        throw e  // an aborted build stays aborted
    } catch (Exception e) {  // groovylint-disable-line CatchException
        // Most likely the credential: missing, or not a Secret text.
        answer = request.credentialsUnusable(e)
    }
    return answer
}

Map send(ApiRequest request) {
    try {
        def response = httpRequest(url: request.url, httpMode: request.method, contentType: request.contentType,
            acceptType: 'APPLICATION_JSON', requestBody: request.body ?: '',
            // Built by a @NonCPS method, never interpolated: the secret stays out of GStrings, locals and the console.
            customHeaders: [[name: 'Authorization', value: TrackerLinks.authorization(env.CHANGETRACKER_TOKEN),
                             maskValue: true],
                            [name: 'User-Agent', value: LibraryVersion.USER_AGENT, maskValue: true]],
            validResponseCodes: '100:599', timeout: request.timeout, quiet: true)
        return ApiRequest.answered(response.status as int, response.content as String, 'httpRequest')
    } catch (InterruptedException e) {
        throw e
    } catch (NoSuchMethodError e) {
        // "No such DSL method 'httpRequest'": a Jenkins without the HTTP Request plugin.
        return sendWithCurl(request)
    } catch (Exception e) {  // groovylint-disable-line CatchException
        // Whatever httpRequest throws (connection refused, timeout, TLS) means no answer; the caller may retry.
        return request.unreachable(e, env.CHANGETRACKER_TOKEN)
    }
}

/** The same request with curl, run by sh on the agent: for a Jenkins without the HTTP Request plugin. */
Map sendWithCurl(ApiRequest request) {
    String plugin = 'no httpRequest step (install the HTTP Request plugin)'
    if (!env.NODE_NAME) {
        return ApiRequest.failed(plugin + ', and no agent to run curl on outside a node block', false)
    }
    try {
        if (!isUnix()) {
            return ApiRequest.failed(plugin + ', and curl runs on Unix agents only, not on ' + env.NODE_NAME, false)
        }
        String bodyFile = null
        if (request.body != null) {
            bodyFile = CurlCommand.bodyFile(pwd(tmp: true))
            writeFile(file: bodyFile, text: request.body, encoding: 'UTF-8')
        }
        String output = null
        withEnv(CurlCommand.environment(request, bodyFile)) {
            output = sh(script: CurlCommand.SCRIPT, returnStdout: true)
        }
        return CurlCommand.answer(request, output)
    } catch (InterruptedException e) {
        throw e
    } catch (Exception e) {  // groovylint-disable-line CatchException
        // sh itself failed (no workspace, no shell): no answer, and no retry will bring one.
        return ApiRequest.failed(plugin + ', and curl could not run on ' + env.NODE_NAME + ' (' +
            e.getClass().simpleName + (e.message ? ': ' + TrackerLinks.redact(e.message, env.CHANGETRACKER_TOKEN) :
            '') + ')', false)
    }
}
