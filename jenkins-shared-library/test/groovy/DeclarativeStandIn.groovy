/**
 * Declarative Pipeline without Jenkins: enough of pipeline { } to run the README's examples as a build would. The
 * directives are read first (agent, options, triggers, environment, stages, post), then run as Jenkins runs them:
 * the top-level agent around everything, the stages in order until one fails, then, on the same agent, the post
 * conditions that match the build's result. Options and triggers are recorded, not enforced. Anything else is
 * refused rather than silently skipped, so a test cannot pass by not running part of a pipeline.
 */
class DeclarativeStandIn {
    /** The post conditions the harness can judge, in Jenkins' order (changed, fixed, regression need history). */
    static final List<String> CONDITIONS = ['always', 'aborted', 'failure', 'success', 'unstable', 'unsuccessful',
                                            'cleanup'].asImmutable()
    static final String ANY = 'any'
    static final String NONE = 'none'

    final PipelineHarness harness
    final Script script
    /** null until an agent directive: ANY, NONE or a label expression. */
    String agent
    /** The options and triggers, as [step: name, args: [...]]. */
    final List<Map> directives = []
    final Map<String, String> environment = [:]
    /** [name:, steps: Closure, environment: Map] in order. */
    final List<Map> stages = []
    final Map<String, Closure> post = [:]

    DeclarativeStandIn(PipelineHarness harness, Script script) {
        this.harness = harness
        this.script = script
    }

    /** Reads the pipeline { } block's directives. */
    DeclarativeStandIn declare(Closure pipeline) {
        within(pipeline, new PipelineSection(this))
        if (agent == null) {
            throw new PipelineAbort('WorkflowScript: Missing required section "agent"')
        }
        if (stages.isEmpty()) {
            throw new PipelineAbort('WorkflowScript: Missing required section "stages"')
        }
        return this
    }

    Object run() {
        if (agent == NONE) {
            runStagesThenPost()
        } else {
            harness.onAgent(agent == ANY ? null : agent) { runStagesThenPost() }
        }
        return null
    }

    private void runStagesThenPost() {
        Throwable failure = null
        harness.withEnvironment(environment) {
            try {
                for (Map stage : stages) {
                    harness.echoLine("[Pipeline] stage: ${stage.name}".toString())
                    harness.withEnvironment((Map) stage.environment) { steps((Closure) stage.steps).call() }
                }
            } catch (InterruptedException e) {
                harness.currentBuild.result = 'ABORTED'
                failure = e
            } catch (Throwable e) {  // groovylint-disable-line CatchThrowable
                // As in Jenkins, anything a stage throws fails the build, after the post conditions ran.
                harness.currentBuild.result = 'FAILURE'
                failure = e
            }
            for (String condition : CONDITIONS) {
                if (post.containsKey(condition) && holds(condition, harness.currentBuild.currentResult)) {
                    steps(post[condition]).call()
                }
            }
        }
        if (failure != null) {
            throw failure
        }
    }

    private static boolean holds(String condition, String result) {
        switch (condition) {
            case 'aborted': return result == 'ABORTED'
            case 'failure': return result == 'FAILURE'
            case 'success': return result == 'SUCCESS'
            case 'unstable': return result == 'UNSTABLE'
            case 'unsuccessful': return result != 'SUCCESS'
            default: return true  // always, cleanup
        }
    }

    /** A steps { } (or post condition) block, its names resolved as in the Jenkinsfile: steps, then variables. */
    private Closure steps(Closure block) {
        Closure steps = block.rehydrate(script, script, script)
        steps.resolveStrategy = Closure.OWNER_FIRST
        return steps
    }

    static void within(Closure block, Object section) {
        Closure reading = (Closure) block.clone()
        reading.delegate = section
        reading.resolveStrategy = Closure.DELEGATE_ONLY
        reading.call()
    }

    /** Refuses what the stand-in does not do. */
    static void refuse(String where, String name, Object args) {
        int count = args instanceof Object[] ? ((Object[]) args).length : 1
        throw new UnsupportedOperationException("DeclarativeStandIn: '${name}' (${count} argument(s)) in ${where} " +
            'is not supported')
    }
}

/** The directives of pipeline { }. */
class PipelineSection {
    final DeclarativeStandIn pipeline

    PipelineSection(DeclarativeStandIn pipeline) {
        this.pipeline = pipeline
    }

    String getAny() {
        return DeclarativeStandIn.ANY
    }

    String getNone() {
        return DeclarativeStandIn.NONE
    }

    void agent(String kind) {
        pipeline.agent = kind
    }

    void agent(Closure block) {
        AgentSection section = new AgentSection()
        DeclarativeStandIn.within(block, section)
        pipeline.agent = section.expression ?: DeclarativeStandIn.ANY
    }

    void options(Closure block) {
        DeclarativeStandIn.within(block, new RecordedSection(pipeline.directives))
    }

    void triggers(Closure block) {
        DeclarativeStandIn.within(block, new RecordedSection(pipeline.directives))
    }

    void environment(Closure block) {
        DeclarativeStandIn.within(block, new EnvironmentSection(pipeline.environment))
    }

    void stages(Closure block) {
        DeclarativeStandIn.within(block, new StagesSection(pipeline.stages))
    }

    void post(Closure block) {
        DeclarativeStandIn.within(block, new PostSection(pipeline.post))
    }

    def methodMissing(String name, Object args) {
        DeclarativeStandIn.refuse('pipeline', name, args)
    }
}

class AgentSection {
    String expression

    void label(String labelExpression) {
        expression = labelExpression
    }

    def methodMissing(String name, Object args) {
        DeclarativeStandIn.refuse('agent', name, args)
    }
}

/** options { } and triggers { }: every call recorded as it is. */
class RecordedSection {
    final List<Map> calls

    RecordedSection(List<Map> calls) {
        this.calls = calls
    }

    def methodMissing(String name, Object args) {
        Map call = [step: name, args: args instanceof Object[] ? (args as List) : [args]]
        calls << call
        return call
    }
}

class EnvironmentSection {
    final Map<String, String> values

    EnvironmentSection(Map<String, String> values) {
        this.values = values
    }

    void propertyMissing(String name, Object value) {
        values[name] = String.valueOf(value)
    }

    def methodMissing(String name, Object args) {
        DeclarativeStandIn.refuse('environment', name, args)
    }
}

class StagesSection {
    final List<Map> stages

    StagesSection(List<Map> stages) {
        this.stages = stages
    }

    void stage(String name, Closure block) {
        StageSection section = new StageSection()
        DeclarativeStandIn.within(block, section)
        if (section.stepsBlock == null) {
            throw new PipelineAbort("WorkflowScript: stage '${name}' has no steps")
        }
        stages << [name: name, steps: section.stepsBlock, environment: section.variables]
    }

    def methodMissing(String name, Object args) {
        DeclarativeStandIn.refuse('stages', name, args)
    }
}

class StageSection {
    Closure stepsBlock
    final Map<String, String> variables = [:]

    void steps(Closure block) {
        stepsBlock = block
    }

    void environment(Closure block) {
        DeclarativeStandIn.within(block, new EnvironmentSection(variables))
    }

    def methodMissing(String name, Object args) {
        DeclarativeStandIn.refuse('stage', name, args)
    }
}

class PostSection {
    final Map<String, Closure> conditions

    PostSection(Map<String, Closure> conditions) {
        this.conditions = conditions
    }

    def methodMissing(String name, Object args) {
        List values = args instanceof Object[] ? (args as List) : [args]
        if (!DeclarativeStandIn.CONDITIONS.contains(name) || values.size() != 1 || !(values[0] instanceof Closure)) {
            DeclarativeStandIn.refuse('post', name, args)
        }
        conditions[name] = (Closure) values[0]
        return null
    }
}
