/**
 * The harness has to run pipelines as Jenkins does, or the README tests prove little: Declarative stages and post
 * conditions, node { } with its agent and workspace, sh for real.
 */
class PipelineHarnessTest extends GroovyTestCase {
    PipelineHarness harness

    @Override
    protected void setUp() {
        super.setUp()
        harness = new PipelineHarness(PipelineHarness.findLibraryRoot())
        harness.agent.putAll(name: 'linux-07', labels: 'linux docker')
    }

    @Override
    protected void tearDown() {
        harness.close()
        super.tearDown()
    }

    void testDeclarativeStagesThenPostOnTheAgent() {
        harness.runPipeline('''
            @Library('change-tracker') _

            pipeline {
                agent { label 'linux' }
                options { timeout(time: 5, unit: 'MINUTES') }
                environment { GREETING = 'hello' }
                stages {
                    stage('One') { steps { echo "one on ${env.NODE_NAME}: ${env.GREETING}" } }
                    stage('Two') { steps { sh 'echo "two in $(basename "$PWD")"' } }
                }
                post {
                    always { echo 'always' }
                    failure { echo 'not on success' }
                    success { echo "success on ${env.NODE_NAME}" }
                }
            }
        ''')

        assert harness.log.findAll { !it.startsWith('+ ') } == ['[Pipeline] stage: One', 'one on linux-07: hello',
            '[Pipeline] stage: Two', 'two in ' + harness.workspaceDir().name, 'always', 'success on linux-07']
        assert harness.currentBuild.result == 'SUCCESS'
        assert !harness.env.containsKey('NODE_NAME') && !harness.env.containsKey('GREETING')
    }

    void testAFailedStageSkipsTheRestRunsPostFailureAndFailsTheBuild() {
        String message = shouldFail(PipelineAbort) {
            harness.runPipeline('''
                pipeline {
                    agent any
                    stages {
                        stage('Build') { steps { sh 'exit 3' } }
                        stage('Deploy') { steps { echo 'not reached' } }
                    }
                    post {
                        failure { echo "failure on ${env.NODE_NAME}, result ${currentBuild.currentResult}" }
                        unsuccessful { echo 'unsuccessful' }
                        success { echo 'not on failure' }
                    }
                }
            ''')
        }

        assert message == 'script returned exit code 3'
        assert harness.log.findAll { !it.startsWith('[Pipeline]') && !it.startsWith('+ ') } ==
            ['failure on linux-07, result FAILURE', 'unsuccessful', 'ERROR: script returned exit code 3']
        assert harness.currentBuild.result == 'FAILURE'
    }

    void testWhatTheStandInDoesNotKnowIsRefused() {
        shouldFail(UnsupportedOperationException) {
            harness.runPipeline("pipeline { agent any; stages { stage('x') { when { branch 'main' }; steps { } } } }")
        }
        shouldFail(UnsupportedOperationException) {
            harness.runPipeline("pipeline { agent any; stages { stage('x') { steps { } } }; post { changed { } } }")
        }
        assert shouldFail(PipelineAbort) { harness.runPipeline('pipeline { stages { } }') }.contains('"agent"')
    }

    void testNodeNeedsAMatchingLabelAndStepsNeedANode() {
        harness.runPipeline("node('linux && docker') { echo env.NODE_NAME + ' ' + env.NODE_LABELS }")
        assert harness.log == ['linux-07 linux docker linux-07']

        assert shouldFail(PipelineAbort) { harness.runPipeline("node('windows') { echo 'x' }") }
            .contains("no agent with label 'windows'")
        assert shouldFail(PipelineAbort) { harness.runPipeline("sh 'true'") }
            .contains('Required context class hudson.FilePath is missing')
    }

    void testShReturnsStdoutOrStatusAndSeesTheEnvironment() {
        harness.runPipeline('''
            node {
                withEnv(['GREETING=hi there']) {
                    writeFile(file: 'note.txt', text: 'é\\n')
                    env.FROM_ENV = 'set'
                    echo sh(script: 'printf "%s/%s/%s" "$GREETING" "$FROM_ENV" "$(cat note.txt)"', returnStdout: true)
                    echo 'status ' + sh(script: 'exit 4', returnStatus: true)
                    echo readFile('note.txt').trim()
                }
            }
        ''')

        assert harness.log.findAll { !it.startsWith('+ ') } == ['hi there/set/é', 'status 4', 'é']
    }
}
