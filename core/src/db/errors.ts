/**
 * Which errors mean "MongoDB cannot be reached right now" (as opposed to a bad query or a bug): a request
 * that meets one is a 503 the client may retry, not a 500.
 */
import {
  MongoNetworkError,
  MongoNotConnectedError,
  MongoOperationTimeoutError,
  MongoServerClosedError,
  MongoServerSelectionError,
  MongoTopologyClosedError,
} from 'mongodb';

const UNAVAILABLE = [
  MongoNetworkError, // includes MongoNetworkTimeoutError
  MongoServerSelectionError,
  MongoOperationTimeoutError,
  MongoTopologyClosedError,
  MongoNotConnectedError,
  MongoServerClosedError,
];

/** Whether `error`, or an error it was caused by, says that MongoDB is unreachable. */
export function isStoreUnavailable(error: unknown): boolean {
  for (let current = error, depth = 0; current instanceof Error && depth < 8; depth++) {
    if (UNAVAILABLE.some((type) => current instanceof type)) return true;
    // The pool-cleared error is not exported; its name is part of the driver's documented error hierarchy.
    if (current.name === 'MongoPoolClearedError') return true;
    // A bulk write that meets a network error throws a MongoBulkWriteError (a server error by its class) that
    // keeps the network error as its `errorResponse`, not as its cause.
    const response: unknown = (current as { errorResponse?: unknown }).errorResponse;
    current = response instanceof Error ? response : current.cause;
  }
  return false;
}
