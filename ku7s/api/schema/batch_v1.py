"""batch/v1 types, in the schema notation of ku7s.api.schema (public API field numbers)."""

SOURCE = """
Job
  metadata ObjectMeta 1
  spec JobSpec 2
  status JobStatus 3

JobSpec
  parallelism int32 1
  completions int32 2
  activeDeadlineSeconds int64 3
  podFailurePolicy raw 11
  successPolicy raw 16
  backoffLimit int32 7
  backoffLimitPerIndex int32 12
  maxFailedIndexes int32 13
  selector LabelSelector 4
  manualSelector bool 5
  template PodTemplateSpec 6
  ttlSecondsAfterFinished int32 8
  completionMode string 9
  suspend bool 10
  podReplacementPolicy string 14
  managedBy string 15

JobStatus
  conditions []JobCondition 1
  startTime time 2
  completionTime time 3
  active int32 4
  succeeded int32 5
  failed int32 6
  terminating int32 11
  completedIndexes string 7
  failedIndexes string 10
  uncountedTerminatedPods UncountedTerminatedPods 8
  ready int32 9

JobCondition
  type string 1
  status string 2
  lastProbeTime time 3
  lastTransitionTime time 4
  reason string 5
  message string 6

UncountedTerminatedPods
  succeeded []string 1
  failed []string 2
"""

CRON = """
CronJob
  metadata ObjectMeta 1
  spec CronJobSpec 2
  status CronJobStatus 3

CronJobSpec
  schedule string 1
  timeZone string 8
  startingDeadlineSeconds int64 2
  concurrencyPolicy string 3
  suspend bool 4
  jobTemplate JobTemplateSpec 5
  successfulJobsHistoryLimit int32 6
  failedJobsHistoryLimit int32 7

JobTemplateSpec
  metadata ObjectMeta 1
  spec JobSpec 2

CronJobStatus
  active []ObjectReference 1
  lastScheduleTime time 4
  lastSuccessfulTime time 5
"""
