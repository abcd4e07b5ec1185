package com.example.diabetes.client;

import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.util.regex.Pattern;

/**
 * A call to the service failed: {@link #code()} is the gRPC status, {@link #getMessage()} the
 * server's words. The subclasses say what kind of failure it was, as the Python client's
 * exception classes do.
 */
public class PredictionException extends RuntimeException {
  private static final long serialVersionUID = 1L;
  // RESOURCE_EXHAUSTED means "too large" only when the message says so.
  private static final Pattern SIZE_MESSAGE =
      Pattern.compile("larger than max|too large", Pattern.CASE_INSENSITIVE);
  // Envoy's local rate limiter answers "local_rate_limited" (under UNAVAILABLE for gRPC).
  private static final Pattern RATE_LIMIT_MESSAGE =
      Pattern.compile("rate[ _-]?limit", Pattern.CASE_INSENSITIVE);

  private final Status.Code code;
  private final String serverMessage;
  private final int recordOffset;

  public PredictionException(Status.Code code, String message, int recordOffset) {
    super(
        code.name()
            + ": "
            + message
            + (recordOffset > 0 ? " (in the call starting at record " + recordOffset + ")" : ""));
    this.code = code;
    this.serverMessage = message;
    this.recordOffset = recordOffset;
  }

  public Status.Code code() {
    return code;
  }

  /** The server's own words, without the code. */
  public String serverMessage() {
    return serverMessage;
  }

  /**
   * When a large input was split into several calls: the index in the caller's input of the
   * first record of the call that failed.
   */
  public int recordOffset() {
    return recordOffset;
  }

  /** The server refused the input (INVALID_ARGUMENT); the message names the field. */
  public static final class InvalidInput extends PredictionException {
    private static final long serialVersionUID = 1L;

    InvalidInput(String message, int offset) {
      super(Status.Code.INVALID_ARGUMENT, message, offset);
    }
  }

  /** No such model, version or label (NOT_FOUND); the message names those served. */
  public static final class ModelNotFound extends PredictionException {
    private static final long serialVersionUID = 1L;

    ModelNotFound(String message, int offset) {
      super(Status.Code.NOT_FOUND, message, offset);
    }
  }

  /** The edge wants a valid bearer token (UNAUTHENTICATED). */
  public static final class Unauthenticated extends PredictionException {
    private static final long serialVersionUID = 1L;

    Unauthenticated(String message, int offset) {
      super(Status.Code.UNAUTHENTICATED, message, offset);
    }
  }

  /** The token is valid but not for this service (PERMISSION_DENIED). */
  public static final class PermissionDenied extends PredictionException {
    private static final long serialVersionUID = 1L;

    PermissionDenied(String message, int offset) {
      super(Status.Code.PERMISSION_DENIED, message, offset);
    }
  }

  /** Refused for load, not for its size (a rate or concurrency limit): wait and retry. */
  public static final class RateLimited extends PredictionException {
    private static final long serialVersionUID = 1L;

    RateLimited(Status.Code code, String message, int offset) {
      super(code, message, offset);
    }
  }

  /** A message was over a size limit (RESOURCE_EXHAUSTED): send fewer records per call. */
  public static final class MessageTooLarge extends PredictionException {
    private static final long serialVersionUID = 1L;

    MessageTooLarge(String message, int offset) {
      super(Status.Code.RESOURCE_EXHAUSTED, message, offset);
    }
  }

  /** The server could not be reached (UNAVAILABLE). */
  public static final class Unavailable extends PredictionException {
    private static final long serialVersionUID = 1L;

    Unavailable(String message, int offset) {
      super(Status.Code.UNAVAILABLE, message, offset);
    }
  }

  /** The call did not finish within its deadline (DEADLINE_EXCEEDED). */
  public static final class DeadlineExceeded extends PredictionException {
    private static final long serialVersionUID = 1L;

    DeadlineExceeded(String message, int offset) {
      super(Status.Code.DEADLINE_EXCEEDED, message, offset);
    }
  }

  /** The exception for a status code and message. */
  public static PredictionException of(Status.Code code, String message, int offset) {
    switch (code) {
      case INVALID_ARGUMENT:
        return new InvalidInput(message, offset);
      case NOT_FOUND:
        return new ModelNotFound(message, offset);
      case UNAUTHENTICATED:
        return new Unauthenticated(message, offset);
      case PERMISSION_DENIED:
        return new PermissionDenied(message, offset);
      case DEADLINE_EXCEEDED:
        return new DeadlineExceeded(message, offset);
      case RESOURCE_EXHAUSTED:
        return SIZE_MESSAGE.matcher(message).find()
            ? new MessageTooLarge(message, offset)
            : new RateLimited(code, message, offset);
      case UNAVAILABLE:
        return RATE_LIMIT_MESSAGE.matcher(message).find()
            ? new RateLimited(code, message, offset)
            : new Unavailable(message, offset);
      default:
        return new PredictionException(code, message, offset);
    }
  }

  static PredictionException fromRpc(StatusRuntimeException error, int offset) {
    Status status = error.getStatus();
    String details = status.getDescription() == null ? "" : status.getDescription();
    return of(status.getCode(), statusMessage(details), offset);
  }

  /**
   * Envoy's own replies (a missing token, a rate limit) can reach gRPC callers with its JSON
   * error body as the message; the words are its "message".
   */
  static String statusMessage(String details) {
    if (!details.startsWith("{")) {
      return details;
    }
    try {
      var body = com.google.gson.JsonParser.parseString(details);
      if (body.isJsonObject()) {
        var message = body.getAsJsonObject().get("message");
        if (message != null && message.isJsonPrimitive() && message.getAsJsonPrimitive().isString()) {
          return message.getAsString();
        }
      }
    } catch (RuntimeException notJson) {
      // Not JSON after all: the details are the message.
    }
    return details;
  }
}
