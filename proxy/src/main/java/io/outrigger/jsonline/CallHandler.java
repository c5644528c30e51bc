package io.outrigger.jsonline;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;
import io.outrigger.SidecarContext;
import io.outrigger.metrics.ProxyMetrics;
import io.outrigger.resilience.Backoff;
import io.outrigger.resilience.CircuitBreaker;
import io.outrigger.resilience.Retrier;
import io.outrigger.trace.TraceIds;

import java.util.ArrayList;
import java.util.List;

/**
 * {@code call}: a request through the sidecar to a service (body {@code service}, else the
 * envelope {@code dest}), judged by that service's shared circuit breaker, retried with
 * exponential backoff when asked. The upstream is simulated: {@code force_failures: F} makes the
 * first F attempts fail, every other attempt succeeds; nothing is sent on the network.
 *
 * <p>Fields (all optional): {@code proxy} (body or envelope; every call goes through the sidecar),
 * {@code trace_id} (kept; default a fresh UUID), {@code force_failures} (0..10000, default 0),
 * {@code force_success} (the default outcome), {@code circuit_breaker} (breaker replies give the
 * reason instead of the count), {@code state} ({@code closed|open|half_open}, set on the breaker
 * first), {@code retries} (0..20) and {@code base_ms} (0..60000, default 100).
 *
 * <p>Attempts: each asks the breaker first; one it rejects is not sent and not counted, and
 * ends the call. Each failed attempt counts toward the breaker. Without {@code retries} the call
 * makes its F failing attempts back to back (one succeeding attempt when F is 0). With
 * {@code retries: R} it makes up to R+1 attempts, retry k after {@code base_ms * 2^(k-1)} ms
 * (no jitter, each wait capped at 60000 ms) scheduled on the event loop; no retry is made once
 * the breaker is open. A call whose channel closes while it waits is cancelled: no further attempt.
 *
 * <p>Replies, in this order of precedence:
 * <ul>
 *   <li>success after the call closed a half-open (or expired open) breaker:
 *       {@code circuit_breaker_closed} {service, state:"closed"}</li>
 *   <li>success: {@code proxied} {proxied_by, trace_id}, plus {@code attempts} and
 *       {@code backoff_ms} whenever {@code retries} was given (so {@code "attempts":1,"backoff_ms":[]}
 *       when nothing failed)</li>
 *   <li>this call's failures opened the breaker: {@code circuit_breaker_open} {service, failures}
 *       or {service, reason:"Too many failures"} with {@code circuit_breaker:true}</li>
 *   <li>the breaker rejected the attempt: {@code error} {error:"Circuit breaker OPEN", service}</li>
 *   <li>otherwise: {@code error} {error:"Upstream failure", service, failures}</li>
 * </ul>
 * {@code failures} is the number of failed attempts this call sent. Thread-safe: per-call state
 * lives in {@link Call}, confined to the channel's event loop.
 */
final class CallHandler implements MessageHandler {
    static final int MAX_FORCE_FAILURES = 10_000;
    static final int MAX_RETRIES = 20;
    static final long DEFAULT_BASE_MILLIS = 100;
    static final long MAX_BASE_MILLIS = 60_000;
    static final long MAX_DELAY_MILLIS = 60_000;
    static final String EDGE = "jsonline";

    private static final AttemptFailed UPSTREAM_FAILED = new AttemptFailed("forced upstream failure");
    private static final AttemptFailed BREAKER_REJECTED = new AttemptFailed("rejected by the open circuit breaker");
    /** The status a call whose client left before its end is counted with, as on the HTTP edges. */
    private static final int CLIENT_LEFT = 499;

    /**
     * Breakers (of every kind, in the whole sidecar) past which a call may not create one for a name
     * the registry does not know: callers name services freely, and a breaker (with its metrics) lives
     * as long as the process, so a client naming ever new services could grow the sidecar without bound.
     * Calls to services that have a breaker or are in the registry are never refused.
     */
    static final int MAX_BREAKERS = 1_024;

    private final SidecarContext context;
    private final String sidecarName;

    /** @param sidecarName the {@code proxied_by} name, or null to derive it from the caller */
    CallHandler(SidecarContext context, String sidecarName) {
        this.context = context;
        this.sidecarName = sidecarName;
    }

    @Override
    public String type() {
        return "call";
    }

    @Override
    public Future<ObjectNode> handle(Request request, JsonLineSession session) {
        ObjectNode in = request.body();
        String service = Fields.optionalString(in, "service");
        if (service == null) {
            service = request.dest();
        }
        if (service == null) {
            throw JsonLineException.malformed("service: missing (expected: body.service or the envelope dest)");
        }
        if (service.indexOf('/') >= 0) {
            // service/host:port is how an instance's breaker is keyed: such a name would reach (and could force) it.
            // Cut short in the reply: the name may be a line (1 MiB) long.
            throw JsonLineException.malformed("service: " + Fields.cut(service) + " (expected: a service name without '/')");
        }
        Fields.checkServiceName(service, context.registry().contains(service));
        Fields.optionalBoolean(in, "proxy");
        Fields.optionalBoolean(in, "force_success");
        String traceId = Fields.optionalString(in, "trace_id");
        int forceFailures = Fields.optionalInt(in, "force_failures", 0, 0, MAX_FORCE_FAILURES);
        boolean giveReason = Fields.optionalBoolean(in, "circuit_breaker");
        CircuitBreaker.State state = state(in);
        boolean retrying = Fields.present(in, "retries");
        int retries = Fields.optionalInt(in, "retries", 0, 0, MAX_RETRIES);
        long baseMillis = Fields.optionalLong(in, "base_ms", DEFAULT_BASE_MILLIS, 0, MAX_BASE_MILLIS);

        if (context.breakers().find(service) == null && !context.registry().contains(service)
                && context.breakers().all().size() >= MAX_BREAKERS) {
            throw JsonLineException.malformed("service: " + service + " would be breaker number " + (MAX_BREAKERS + 1)
                    + " (at most " + MAX_BREAKERS + " services are tracked)");
        }
        CircuitBreaker breaker = context.breakers().forService(service);
        if (state != null) {
            breaker.transitionTo(state, "set by call msg_id " + request.msgId());
        }
        EventExecutor executor = session.executor();
        Call call = new Call(request, executor, service, breaker, forceFailures, giveReason, retrying,
                traceId != null ? traceId : TraceIds.randomUuid(), context.ticker().nanos());
        if (!retrying) {
            // Back-to-back attempts run now, so the breaker's state is settled before the next line is read.
            AttemptFailed failure;
            int n = 0;
            do {
                failure = call.attempt(false);
                n++;
            } while (failure == UPSTREAM_FAILED && n < forceFailures && breaker.isCallPermitted());
            return executor.newSucceededFuture(call.reply(failure));
        }
        Backoff backoff = Backoff.exponential(baseMillis, Math.max(baseMillis, MAX_DELAY_MILLIS)).withMaxRetries(retries);
        Future<Void> outcome = Retrier.run(executor, backoff,
                cause -> cause == UPSTREAM_FAILED && breaker.isCallPermitted(),
                call::onRetry, n -> call.attemptFuture(n));
        if (outcome.isDone()) {
            return executor.newSucceededFuture(call.reply(outcome.cause()));
        }
        Promise<ObjectNode> reply = executor.newPromise();
        outcome.addListener(done -> {
            if (outcome.isCancelled()) {
                call.record(CLIENT_LEFT); // the attempts it made were made all the same
            } else {
                reply.trySuccess(call.reply(outcome.cause()));
            }
        });
        // The caller left (its channel closed): no further attempt, so none judges the breaker for nobody.
        reply.addListener(done -> {
            if (done.isCancelled()) {
                outcome.cancel(false);
            }
        });
        return reply;
    }

    private static CircuitBreaker.State state(ObjectNode in) {
        String name = Fields.optionalString(in, "state");
        if (name == null) {
            return null;
        }
        CircuitBreaker.State s = CircuitBreaker.State.fromWireName(name);
        if (s == null) {
            throw JsonLineException.malformed("state: \"" + name + "\" (expected: closed, open or half_open)");
        }
        return s;
    }

    /** {@code service-X} -> {@code sidecar-X}; any other caller -> {@code sidecar-<src>}; a configured name wins. */
    String proxiedBy(String src) {
        if (sidecarName != null) {
            return sidecarName;
        }
        if (src == null || src.isEmpty()) {
            return "sidecar";
        }
        return src.startsWith("service-") ? "sidecar-" + src.substring("service-".length()) : "sidecar-" + src;
    }

    /** One call's attempts; confined to the channel's event loop. */
    private final class Call {
        private final Request request;
        private final EventExecutor executor;
        private final String service;
        private final CircuitBreaker breaker;
        private final int forceFailures;
        private final boolean giveReason;
        private final boolean retrying;
        private final String traceId;
        private final long startNanos;
        private final CircuitBreaker.State stateBefore;
        private final List<Long> backoffMillis = new ArrayList<>(0);
        private int sent;
        private int failures;
        private boolean tripped;

        Call(Request request, EventExecutor executor, String service, CircuitBreaker breaker, int forceFailures, boolean giveReason,
             boolean retrying, String traceId, long startNanos) {
            this.request = request;
            this.executor = executor;
            this.service = service;
            this.breaker = breaker;
            this.forceFailures = forceFailures;
            this.giveReason = giveReason;
            this.retrying = retrying;
            this.traceId = traceId;
            this.startNanos = startNanos;
            this.stateBefore = breaker.state();
        }

        /**
         * Makes one attempt; returns null on success, else why it failed. A retry is counted in the metrics when
         * it is made, as on the HTTP edges, not when planned (a call cancelled during its backoff makes none).
         */
        AttemptFailed attempt(boolean retry) {
            if (!breaker.tryAcquirePermission()) {
                return BREAKER_REJECTED;
            }
            if (retry) {
                context.metrics().onRetry(EDGE, metricsLabel());
            }
            sent++;
            if (failures < forceFailures) {
                failures++;
                // Its own failure, not the state after it: another caller may have opened the breaker meanwhile.
                if (breaker.onFailure()) {
                    tripped = true;
                }
                return UPSTREAM_FAILED;
            }
            breaker.onSuccess();
            return null;
        }

        /** The service as a metrics label: its name when the registry knows it, else {@code unknown} (callers name services freely). */
        private String metricsLabel() {
            return context.registry().contains(service) ? service : ProxyMetrics.UNKNOWN_SERVICE;
        }

                /** Attempt {@code n} (from 1) of a call with retries. */
        Future<Void> attemptFuture(int n) {
            AttemptFailed failure = attempt(n > 1);
            return failure == null ? executor.newSucceededFuture(null) : executor.newFailedFuture(failure);
        }

        void onRetry(int retry, long delayMillis, Throwable cause) {
            backoffMillis.add(delayMillis);
        }

        /**
         * Counts the call, once it is over, in the metrics, with the status the tcp relay gives the same outcome
         * (the line-JSON edge has no HTTP status): none when it succeeded, 503 when a breaker refused it, 502 when
         * its attempts failed, and 499, as on the HTTP edges, when its client left first; so a failing call does not
         * read as a success in {@code status_class}.
         */
        void record(int status) {
            context.metrics().onExchange(EDGE, metricsLabel(), null, status, sent, context.ticker().nanos() - startNanos);
        }

        /** The reply once the call is over; {@code failure} is null when the last attempt succeeded. */
        ObjectNode reply(Throwable failure) {
            record(failure == null ? 0 : failure == BREAKER_REJECTED ? 503 : 502);
            ObjectNode body;
            if (failure == null) {
                if (stateBefore != CircuitBreaker.State.CLOSED && breaker.state() == CircuitBreaker.State.CLOSED) {
                    body = MessageHandler.replyBody("circuit_breaker_closed", request);
                    body.put("service", service);
                    body.put("state", CircuitBreaker.State.CLOSED.wireName());
                    return body;
                }
                body = MessageHandler.replyBody("proxied", request);
                body.put("proxied_by", proxiedBy(request.src()));
                body.put("trace_id", traceId);
                if (retrying) {
                    body.put("attempts", sent);
                    ArrayNode waits = body.putArray("backoff_ms");
                    backoffMillis.forEach(waits::add);
                }
                return body;
            }
            if (tripped) {
                body = MessageHandler.replyBody("circuit_breaker_open", request);
                body.put("service", service);
                if (giveReason) {
                    body.put("reason", "Too many failures");
                } else {
                    body.put("failures", failures);
                }
                return body;
            }
            body = MessageHandler.replyBody("error", request);
            if (failure == BREAKER_REJECTED) {
                body.put("error", "Circuit breaker OPEN");
                body.put("service", service);
            } else {
                body.put("error", "Upstream failure");
                body.put("service", service);
                body.put("failures", failures);
            }
            return body;
        }

    }

    /** Why a simulated attempt failed; preallocated, without a stack trace. */
    private static final class AttemptFailed extends Exception {
        private static final long serialVersionUID = 1L;

        AttemptFailed(String message) {
            super(message, null, false, false);
        }
    }
}
