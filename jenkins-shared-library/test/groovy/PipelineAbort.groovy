/**
 * What the harness throws where Jenkins would throw hudson.AbortException: from the error step, from
 * httpRequest when a status is outside validResponseCodes, from withCredentials when a credential is missing.
 */
class PipelineAbort extends RuntimeException {
    PipelineAbort(String message) {
        super(message)
    }
}
