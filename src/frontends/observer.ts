/**
 * What a node's frontends report, whatever their protocol: callbacks per request and per partition of data
 * moved, and connection counters. A metrics exporter observes the node through these, so every frontend is
 * counted the same way. It sits beside the frontends, below the node and the metrics exporter, which both use it.
 */

/**
 * Callbacks for a metrics exporter. Frontends call them synchronously on the request path: keep them to a few
 * counter updates.
 */
export interface NodeObserver {
  /** A request was handled, from frame decode to encoded response (a long poll includes its wait). */
  request?(api: string, seconds: number): void;
  /** Record batches of one partition were appended (bytes and records as the client sent them). */
  produced?(topic: string, bytes: number, records: number): void;
  /** Record batches of one partition went into a response. */
  fetched?(topic: string, bytes: number, records: number): void;
}

/** Counters a frontend keeps about its connections, read at any time. */
export interface FrontendCounters {
  readonly connectionsAccepted: number;
  readonly connectionsOpen: number;
  /** Connections closed for a protocol violation. */
  readonly protocolErrors: number;
  /** Connections the frontend closed or refused on its own, by cause. */
  readonly connectionsClosed: Readonly<Record<string, number>>;
  /** Record bytes copied in JS on the fetch path. */
  readonly fetchBytesCopied: number;
}

/** A node as an exporter sees it: observers to add, and the counters of each frontend it runs. */
export interface ObservedNode {
  /** Adds callbacks every frontend reports into; returns a function that removes them. */
  observe(observer: NodeObserver): () => void;
  /** The counters of each running frontend. */
  readonly frontends: readonly FrontendCounters[];
}

/** The node's observers: frontends iterate `list` on the request path; exporters add and remove themselves. */
export class NodeObservers {
  readonly list: NodeObserver[] = [];

  add(observer: NodeObserver): () => void {
    this.list.push(observer);
    return () => {
      const i = this.list.indexOf(observer);
      if (i >= 0) this.list.splice(i, 1);
    };
  }
}
