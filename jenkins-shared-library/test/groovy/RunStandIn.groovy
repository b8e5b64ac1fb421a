/** The harness's currentBuild: the few RunWrapper properties a step may read or set. */
class RunStandIn {
    String result
    String currentResult = 'SUCCESS'
    int number = 1
    String displayName = '#1'
    String description
    String absoluteUrl
    long startTimeInMillis = System.currentTimeMillis()
    /** The job's last successful build before this one (a RunWrapper in Jenkins), or null. */
    RunStandIn previousSuccessfulBuild

    /** As Jenkins does: a result can only get worse. */
    void setResult(String result) {
        List order = ['SUCCESS', 'UNSTABLE', 'FAILURE', 'NOT_BUILT', 'ABORTED']
        if (this.result == null || order.indexOf(result) > order.indexOf(this.result)) {
            this.result = result
        }
        if (order.indexOf(this.result) > order.indexOf(currentResult)) {
            currentResult = this.result
        }
    }
}
