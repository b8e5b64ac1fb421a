package org.jenkinsci.plugins.workflow.libs

import java.lang.annotation.ElementType
import java.lang.annotation.Retention
import java.lang.annotation.RetentionPolicy
import java.lang.annotation.Target

/**
 * Stand-in for the Pipeline: Shared Groovy Libraries plugin's annotation, which Jenkins imports into every
 * Jenkinsfile: {@code @Library('change-tracker') _} then compiles outside Jenkins too.
 */
@Retention(RetentionPolicy.SOURCE)
@Target([ElementType.LOCAL_VARIABLE, ElementType.FIELD, ElementType.TYPE, ElementType.METHOD, ElementType.PACKAGE,
    ElementType.CONSTRUCTOR, ElementType.PARAMETER])
@interface Library {
    String[] value()
}
