/**
 * DogStatsD service checks and events as OTLP log records (pure), in the OpenTelemetry SDK's shape
 * (`ReadableLogRecord`), which `@opentelemetry/otlp-transformer` encodes as protobuf. OTLP has no
 * service checks or events; a log record is what carries a status or a message at a time with the
 * pod's resource, and every backend that takes OTLP logs can search and alert on them.
 *
 * - resource: the pod's (`resource.ts`), its `host.name` the record's `h:` when sent (as a series' `host:`
 *   tag in `metrics.ts`); records of unknown origin share an empty resource;
 * - attributes: the client's own tags, and what the record is: `dd.service_check.name` and `.status`, or
 *   `dd.event.title`, `.alert_type`, `.priority`, `.aggregation_key`, `.source_type_name`; the event name
 *   (`dd.service_check` / `dd.event`) says which;
 * - body: the service check's message (else `<name>: <status>`), the event's text;
 * - severity: ok → INFO, warning → WARN, critical → ERROR, unknown → UNSPECIFIED; an event's alert type
 *   the same way (info and success → INFO);
 * - time: `d:` when sent, else when the node agent received it (always the observed time).
 */
import { SeverityNumber, type LogAttributes } from '@opentelemetry/api-logs';
import { ProtobufLogsSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes, type Resource } from '@opentelemetry/resources';
import type { ReadableLogRecord } from '@opentelemetry/sdk-logs';
import type { EventAlertType, ResolvedOrigin, ServiceCheckStatus, TaggedLogRecord } from '../types.js';
import { HOST_NAME_ATTRIBUTE, INTAKE_SCOPE } from './metrics.js';
import { podResourceAttributes, tagsToAttributes } from './resource.js';
import { hrTimeFromMs } from './time.js';

export const SERVICE_CHECK_EVENT_NAME = 'dd.service_check';
export const DD_EVENT_NAME = 'dd.event';

const SEVERITY: Readonly<Record<ServiceCheckStatus | EventAlertType, { readonly number: SeverityNumber; readonly text: string }>> = {
  ok: { number: SeverityNumber.INFO, text: 'OK' },
  warning: { number: SeverityNumber.WARN, text: 'WARNING' },
  critical: { number: SeverityNumber.ERROR, text: 'CRITICAL' },
  unknown: { number: SeverityNumber.UNSPECIFIED, text: 'UNKNOWN' },
  info: { number: SeverityNumber.INFO, text: 'INFO' },
  success: { number: SeverityNumber.INFO, text: 'SUCCESS' },
  error: { number: SeverityNumber.ERROR, text: 'ERROR' },
};

/** The window's records as SDK log records; one resource object per pod and host, so the encoder groups them. */
export function toLogRecords(records: readonly TaggedLogRecord[]): ReadableLogRecord[] {
  const resources = new Map<ResolvedOrigin | undefined, Map<string, Resource>>();
  const resourceOf = (origin: ResolvedOrigin | undefined, host: string): Resource => {
    let byHost = resources.get(origin);
    if (!byHost) resources.set(origin, (byHost = new Map()));
    let r = byHost.get(host);
    if (!r) byHost.set(host, (r = resourceFromAttributes({ ...podResourceAttributes(origin), ...(host !== '' ? { [HOST_NAME_ATTRIBUTE]: host } : {}) })));
    return r;
  };
  return records.map(({ record: r, origin, receivedMs }): ReadableLogRecord => {
    const own = tagsToAttributes(r.tags) as LogAttributes;
    const sc = r.kind === 'service_check';
    const attributes: LogAttributes = sc
      ? { ...own, 'dd.service_check.name': r.name, 'dd.service_check.status': r.status }
      : {
          ...own,
          'dd.event.title': r.title,
          'dd.event.alert_type': r.alertType,
          'dd.event.priority': r.priority,
          ...(r.aggregationKey !== undefined ? { 'dd.event.aggregation_key': r.aggregationKey } : {}),
          ...(r.sourceType !== undefined ? { 'dd.event.source_type_name': r.sourceType } : {}),
        };
    const severity = SEVERITY[sc ? r.status : r.alertType];
    return {
      hrTime: hrTimeFromMs(r.timestampMs ?? receivedMs),
      hrTimeObserved: hrTimeFromMs(receivedMs),
      severityNumber: severity.number,
      severityText: severity.text,
      body: sc ? (r.message ?? `${r.name}: ${r.status}`) : r.text,
      eventName: sc ? SERVICE_CHECK_EVENT_NAME : DD_EVENT_NAME,
      resource: resourceOf(origin, r.hostname ?? ''),
      instrumentationScope: INTAKE_SCOPE,
      attributes,
      droppedAttributesCount: 0,
    };
  });
}

/** One `ExportLogsServiceRequest`, protobuf-encoded. */
export function encodeLogsRequest(records: ReadableLogRecord[]): Uint8Array {
  return ProtobufLogsSerializer.serializeRequest(records) ?? new Uint8Array(0);
}
