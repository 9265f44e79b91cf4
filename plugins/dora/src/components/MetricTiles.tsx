import {
  Classification,
  DoraMetricId,
  DoraSummary,
  METRIC_DEFINITIONS,
} from '@internal/plugin-dora-common';
import {
  Button,
  Card,
  CardBody,
  CardHeader,
  Flex,
  Grid,
  Text,
  Tooltip,
  TooltipTrigger,
} from '@backstage/ui';
import InfoIcon from '@material-ui/icons/InfoOutlined';
import { formatDuration, formatRate, LEVEL_COLOR, LEVEL_LABEL } from './format';

function LevelBadge({ classification }: { classification?: Classification }) {
  if (!classification) {
    return (
      <Text variant="body-small" color="secondary">
        not benchmarked
      </Text>
    );
  }
  return (
    <span
      data-testid="dora-level"
      style={{
        background: LEVEL_COLOR[classification.level],
        color: 'white',
        borderRadius: 4,
        padding: '1px 8px',
        fontSize: 12,
        fontWeight: 600,
      }}
      title={`Classified by the DORA ${classification.benchmark} benchmark`}
    >
      {LEVEL_LABEL[classification.level]} · DORA {classification.benchmark}
    </span>
  );
}

function Definition({ metric }: { metric: DoraMetricId }) {
  return (
    <TooltipTrigger delay={200}>
      <Button
        variant="tertiary"
        size="small"
        aria-label={`How ${METRIC_DEFINITIONS[metric].title} is computed`}
      >
        <InfoIcon fontSize="small" />
      </Button>
      <Tooltip>{METRIC_DEFINITIONS[metric].definition}</Tooltip>
    </TooltipTrigger>
  );
}

function Tile(props: {
  metric: DoraMetricId;
  figure: string;
  detail: string;
  quality: string;
  classification?: Classification;
}) {
  const { title } = METRIC_DEFINITIONS[props.metric];
  return (
    <Card data-testid={`dora-tile-${props.metric}`}>
      <CardHeader>
        <Flex justify="between" align="center">
          <Text variant="title-x-small">{title}</Text>
          <Definition metric={props.metric} />
        </Flex>
      </CardHeader>
      <CardBody>
        <Flex direction="column" gap="2">
          <Text variant="title-medium" data-testid="dora-figure">
            {props.figure}
          </Text>
          <LevelBadge classification={props.classification} />
          <Text variant="body-small">{props.detail}</Text>
          <Text
            variant="body-x-small"
            color="secondary"
            data-testid="dora-quality"
          >
            {props.quality}
          </Text>
        </Flex>
      </CardBody>
    </Card>
  );
}

/** The four keys and rework rate, each with its level, its definition and how far it can be trusted. */
export function MetricTiles({
  summary,
  compact,
}: {
  summary: DoraSummary;
  /** In a card: fewer tiles a row. */
  compact?: boolean;
}) {
  const {
    deploymentFrequency: df,
    leadTime: lt,
    changeFailureRate: cfr,
    recoveryTime: rt,
    reworkRate: rr,
    dataQuality: dq,
  } = summary;
  return (
    <Grid.Root
      columns={
        compact ? { initial: '1', sm: '2' } : { initial: '1', md: '3', lg: '5' }
      }
      gap="3"
    >
      <Tile
        metric="deploymentFrequency"
        figure={`${df.perDay.toFixed(1)} / day`}
        detail={`${df.deployments} deployments, ${df.perWeek.toFixed(
          1,
        )} a week: ${df.bucket}`}
        quality={`${dq.unattributedEvents} events in the window matched no entity`}
        classification={df.classification}
      />
      <Tile
        metric="leadTime"
        figure={formatDuration(lt.medianSeconds)}
        detail={`p90 ${formatDuration(
          lt.p90Seconds,
        )}; merge to deploy ${formatDuration(lt.mergeToDeploy.medianSeconds)}`}
        quality={`${lt.changes} changes; ${dq.deploymentsWithChanges} of ${dq.deployments} deployments had commits linked; ${lt.droppedNonPositive} non-positive left out`}
        classification={lt.classification}
      />
      <Tile
        metric="changeFailureRate"
        figure={formatRate(cfr.rate)}
        detail={`${cfr.failed} of ${cfr.deployments} deployments failed`}
        quality={`${dq.incidentsLinkedToDeployment} of ${dq.incidents} incidents linked to a deployment`}
        classification={cfr.classification}
      />
      <Tile
        metric="recoveryTime"
        figure={formatDuration(rt.medianSeconds)}
        detail={`${rt.recovered} of ${rt.failed} failures recovered`}
        quality={`${
          dq.incidents - dq.incidentsLinkedToDeployment
        } incidents not linked to a deployment`}
        classification={rt.classification}
      />
      <Tile
        metric="reworkRate"
        figure={formatRate(rr.rate)}
        detail={`${rr.unplannedFixes} unplanned fix deployments`}
        quality={`of ${rr.deployments} production deployments`}
        classification={rr.classification}
      />
    </Grid.Root>
  );
}
