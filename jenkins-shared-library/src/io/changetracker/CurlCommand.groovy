package io.changetracker

import com.cloudbees.groovy.cps.NonCPS

/**
 * callChangeTracker's transport on a Jenkins without the HTTP Request plugin: curl, run by sh on a Unix agent.
 *
 * The script is a constant: what varies reaches it through the environment (withEnv), so nothing is interpolated
 * into shell code. The token goes to curl on its standard input as a configuration line, never on a command line
 * (where ps would show it) nor in a trace (set +x). The body goes through a file, removed afterwards. The script
 * prints the answer's body, then the HTTP status and curl's exit code on the last two lines; it exits 0 even when
 * curl fails, so the step can explain why.
 */
class CurlCommand implements Serializable {
    private static final long serialVersionUID = 1L

    static final String SCRIPT = '''set +x
# Change Tracker without the HTTP Request plugin (jenkins-shared-library: io.changetracker.CurlCommand).
set -- --silent --show-error --config - --request "$CT_METHOD" --max-time "$CT_TIMEOUT" \\
    --user-agent "$CT_USER_AGENT" --header 'Accept: application/json' --write-out '\\n%{http_code}'
if [ -n "$CT_BODY_FILE" ]; then
    set -- "$@" --header 'Content-Type: application/json; charset=UTF-8' --data-binary "@$CT_BODY_FILE"
fi
ct_status=0
ct_answer=$(printf '%s' "$CHANGETRACKER_TOKEN" | tr -d ' \\t\\r\\n' |
    sed 's/[\\\\"]/\\\\&/g; s/^/header = "Authorization: Bearer /; s/$/"/' | curl "$@" "$CT_URL") || ct_status=$?
if [ -n "$CT_BODY_FILE" ]; then
    rm -f "$CT_BODY_FILE"
fi
printf '%s\\n%s\\n' "$ct_answer" "$ct_status"
'''

    /** What curl's exit codes mean (man curl, EXIT CODES), for the warning; those worth another try are marked. */
    static final Map<Integer, String> EXIT_CODES = [
        5  : 'could not resolve the proxy',
        6  : 'could not resolve the host',
        7  : 'could not connect',
        28 : 'timed out',
        35 : 'TLS handshake failed',
        52 : 'empty reply from the server',
        55 : 'failed sending data',
        56 : 'failed receiving data',
        60 : 'the server certificate is not trusted',
        127: 'curl is not installed on this agent',
    ].asImmutable()
    static final List<Integer> RETRYABLE = [5, 6, 7, 28, 52, 55, 56].asImmutable()

    /** The environment the script reads (for withEnv): never the token, which withCredentials binds. */
    @NonCPS
    static List<String> environment(ApiRequest request, String bodyFile) {
        return ['CT_METHOD=' + request.method, 'CT_URL=' + request.url, 'CT_TIMEOUT=' + request.timeout,
                'CT_BODY_FILE=' + (bodyFile ?: ''), 'CT_USER_AGENT=' + LibraryVersion.USER_AGENT]
    }

    /** Where the body goes: the workspace's temporary folder, a name of its own per request. */
    @NonCPS
    static String bodyFile(String tmpDir) {
        return tmpDir + '/change-tracker-' + UUID.randomUUID() + '.json'
    }

    /** The script's output as what callChangeTracker returns (see ApiRequest.answered and failed). */
    @NonCPS
    static Map answer(ApiRequest request, String output) {
        String text = output == null ? '' : output.endsWith('\n') ? output[0..-2] : output
        int exitAt = text.lastIndexOf('\n')
        int statusAt = exitAt > 0 ? text.lastIndexOf('\n', exitAt - 1) : -1
        String exit = exitAt >= 0 ? text.substring(exitAt + 1).trim() : ''
        String status = exitAt >= 0 ? text.substring(statusAt + 1, exitAt).trim() : ''
        int code = exit.isInteger() ? exit.toInteger() : -1
        if (code > 0) {
            // No HTTP status then (curl prints 000, or nothing when it could not start).
            String meaning = EXIT_CODES[code] ?: 'see "man curl", EXIT CODES'
            return ApiRequest.failed("could not reach Change Tracker at ${request.endpoint} (curl exit ${code}: " +
                "${meaning})", RETRYABLE.contains(code))
        }
        if (code != 0 || !status.isInteger()) {
            return ApiRequest.failed('curl gave no answer that could be read', false)
        }
        return ApiRequest.answered(status.toInteger(), statusAt >= 0 ? text.substring(0, statusAt) : '', 'curl')
    }
}
