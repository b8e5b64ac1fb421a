import java.nio.file.Files

/**
 * The sh step, done for real: the script runs as Jenkins runs it (sh -xe, in the workspace, with the build's
 * environment: env plus what withCredentials and withEnv bound), returnStdout and returnStatus as the step takes
 * them, and a non-zero exit fails the step with Jenkins' "script returned exit code N". Lines go to the log as they
 * come; with returnStdout only standard error does.
 */
class ShellStandIn {
    /** The step's parameters; an unknown one is a typo in the caller that Jenkins would reject too. */
    static final Set<String> PARAMETERS = ['script', 'returnStdout', 'returnStatus', 'encoding', 'label'] as Set

    static Object run(Map args, File workspace, Map env, Closure log) {
        Set unknown = args.keySet().collect { it.toString() } as Set
        unknown.removeAll(PARAMETERS)
        if (unknown) {
            throw new IllegalArgumentException("sh: unknown parameter(s) ${unknown.sort()}")
        }
        if (args.returnStdout == true && args.returnStatus == true) {
            throw new IllegalArgumentException('sh: returnStdout and returnStatus are exclusive')
        }
        String charset = args.encoding ?: 'UTF-8'
        File tmp = new File(workspace.path + '@tmp')
        tmp.mkdirs()
        File script = Files.createTempFile(tmp.toPath(), 'script', '.sh').toFile()
        try {
            script.setText(String.valueOf(args.script), charset)
            ProcessBuilder builder = new ProcessBuilder('sh', '-xe', script.path).directory(workspace)
            Map<String, String> environment = builder.environment()
            env.each { key, value ->
                if (value == null) {
                    environment.remove(key.toString())
                } else {
                    environment[key.toString()] = value.toString()
                }
            }
            boolean capture = args.returnStdout == true
            builder.redirectErrorStream(!capture)
            Process process = builder.start()
            process.outputStream.close()
            Thread errors = capture ? Thread.start { process.errorStream.eachLine(charset) { log(it) } } : null
            String stdout = null
            if (capture) {
                stdout = process.inputStream.getText(charset)
            } else {
                process.inputStream.eachLine(charset) { log(it) }
            }
            int exit = process.waitFor()
            errors?.join()
            if (args.returnStatus == true) {
                return exit
            }
            if (exit != 0) {
                throw new PipelineAbort("script returned exit code ${exit}")
            }
            return stdout
        } finally {
            script.delete()
        }
    }
}
