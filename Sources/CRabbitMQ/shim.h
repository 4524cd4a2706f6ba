#ifndef CRABBITMQ_SHIM_H
#define CRABBITMQ_SHIM_H

#include <amqp.h>
#include <amqp_framing.h>
#include <amqp_tcp_socket.h>
#include <amqp_ssl_socket.h>
#include <stdio.h>
#include <string.h>

/// Describes a failed RPC reply in `buffer` (server close text, library error, or "no reply").
static inline void er_amqp_describe_reply(amqp_rpc_reply_t reply, char *buffer, size_t size) {
    switch (reply.reply_type) {
    case AMQP_RESPONSE_NORMAL:
        snprintf(buffer, size, "ok");
        break;
    case AMQP_RESPONSE_NONE:
        snprintf(buffer, size, "missing RPC reply");
        break;
    case AMQP_RESPONSE_LIBRARY_EXCEPTION:
        snprintf(buffer, size, "%s", amqp_error_string2(reply.library_error));
        break;
    case AMQP_RESPONSE_SERVER_EXCEPTION:
        if (reply.reply.id == AMQP_CONNECTION_CLOSE_METHOD) {
            amqp_connection_close_t *close = (amqp_connection_close_t *)reply.reply.decoded;
            snprintf(buffer, size, "connection closed by broker: %u %.*s", close->reply_code,
                     (int)close->reply_text.len, (char *)close->reply_text.bytes);
        } else if (reply.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
            amqp_channel_close_t *close = (amqp_channel_close_t *)reply.reply.decoded;
            snprintf(buffer, size, "channel closed by broker: %u %.*s", close->reply_code,
                     (int)close->reply_text.len, (char *)close->reply_text.bytes);
        } else {
            snprintf(buffer, size, "unexpected broker method 0x%08X", reply.reply.id);
        }
        break;
    }
}

/// `amqp_login` with PLAIN credentials (the C function is variadic, which Swift cannot call).
static inline amqp_rpc_reply_t er_amqp_login(amqp_connection_state_t state, const char *vhost, int frame_max,
                                             int heartbeat, const char *user, const char *password) {
    return amqp_login(state, vhost, 0, frame_max, heartbeat, AMQP_SASL_METHOD_PLAIN, user, password);
}

/// Declares a durable queue; a quorum queue when `quorum` (which supports a delivery limit), with an optional
/// dead-letter exchange and delivery limit (0 for none).
static inline amqp_rpc_reply_t er_amqp_declare_queue(amqp_connection_state_t state, amqp_channel_t channel,
                                                     const char *name, int quorum, const char *dead_letter_exchange,
                                                     int delivery_limit) {
    amqp_table_entry_t entries[3];
    int count = 0;
    if (quorum) {
        entries[count].key = amqp_cstring_bytes("x-queue-type");
        entries[count].value.kind = AMQP_FIELD_KIND_UTF8;
        entries[count].value.value.bytes = amqp_cstring_bytes("quorum");
        count++;
    }
    if (dead_letter_exchange != NULL) {
        entries[count].key = amqp_cstring_bytes("x-dead-letter-exchange");
        entries[count].value.kind = AMQP_FIELD_KIND_UTF8;
        entries[count].value.value.bytes = amqp_cstring_bytes(dead_letter_exchange);
        count++;
    }
    if (delivery_limit > 0) {
        entries[count].key = amqp_cstring_bytes("x-delivery-limit");
        entries[count].value.kind = AMQP_FIELD_KIND_I32;
        entries[count].value.value.i32 = delivery_limit;
        count++;
    }
    amqp_table_t arguments = {count, entries};
    amqp_queue_declare(state, channel, amqp_cstring_bytes(name), 0, 1, 0, 0, arguments);
    return amqp_get_rpc_reply(state);
}

static inline amqp_rpc_reply_t er_amqp_declare_exchange(amqp_connection_state_t state, amqp_channel_t channel,
                                                        const char *name, const char *type) {
    amqp_exchange_declare(state, channel, amqp_cstring_bytes(name), amqp_cstring_bytes(type), 0, 1, 0, 0,
                          amqp_empty_table);
    return amqp_get_rpc_reply(state);
}

static inline amqp_rpc_reply_t er_amqp_bind_queue(amqp_connection_state_t state, amqp_channel_t channel,
                                                  const char *queue, const char *exchange, const char *routing_key) {
    amqp_queue_bind(state, channel, amqp_cstring_bytes(queue), amqp_cstring_bytes(exchange),
                    amqp_cstring_bytes(routing_key), amqp_empty_table);
    return amqp_get_rpc_reply(state);
}

/// A passive queue declare: reports the queue's ready messages and consumers without changing it.
static inline amqp_rpc_reply_t er_amqp_queue_depth(amqp_connection_state_t state, amqp_channel_t channel,
                                                   const char *name, uint32_t *messages, uint32_t *consumers) {
    amqp_queue_declare_ok_t *ok = amqp_queue_declare(state, channel, amqp_cstring_bytes(name), 1, 0, 0, 0,
                                                     amqp_empty_table);
    amqp_rpc_reply_t reply = amqp_get_rpc_reply(state);
    if (ok != NULL) {
        *messages = ok->message_count;
        *consumers = ok->consumer_count;
    }
    return reply;
}


static inline amqp_rpc_reply_t er_amqp_confirm_select(amqp_connection_state_t state, amqp_channel_t channel) {
    amqp_confirm_select(state, channel);
    return amqp_get_rpc_reply(state);
}

static inline amqp_rpc_reply_t er_amqp_qos(amqp_connection_state_t state, amqp_channel_t channel, uint16_t prefetch) {
    amqp_basic_qos(state, channel, 0, prefetch, 0);
    return amqp_get_rpc_reply(state);
}

/// Starts a consumer with manual acks; copies the consumer tag into `tag`.
static inline amqp_rpc_reply_t er_amqp_consume(amqp_connection_state_t state, amqp_channel_t channel,
                                               const char *queue, char *tag, size_t tag_size) {
    amqp_basic_consume_ok_t *ok = amqp_basic_consume(state, channel, amqp_cstring_bytes(queue), amqp_empty_bytes,
                                                     0, 0, 0, amqp_empty_table);
    amqp_rpc_reply_t reply = amqp_get_rpc_reply(state);
    if (ok != NULL && tag != NULL && tag_size > 0) {
        size_t length = ok->consumer_tag.len < tag_size - 1 ? ok->consumer_tag.len : tag_size - 1;
        memcpy(tag, ok->consumer_tag.bytes, length);
        tag[length] = '\0';
    }
    return reply;
}

static inline amqp_rpc_reply_t er_amqp_cancel(amqp_connection_state_t state, amqp_channel_t channel, const char *tag) {
    amqp_basic_cancel(state, channel, amqp_cstring_bytes(tag));
    return amqp_get_rpc_reply(state);
}

/// Publishes a persistent (or transient) JSON message. Returns an `amqp_status_enum` value.
static inline int er_amqp_publish(amqp_connection_state_t state, amqp_channel_t channel, const char *exchange,
                                  const char *routing_key, const void *body, size_t length,
                                  const char *message_id, int persistent) {
    amqp_basic_properties_t properties;
    memset(&properties, 0, sizeof(properties));
    properties._flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG;
    properties.content_type = amqp_cstring_bytes("application/json");
    properties.delivery_mode = persistent ? 2 : 1;
    if (message_id != NULL) {
        properties._flags |= AMQP_BASIC_MESSAGE_ID_FLAG;
        properties.message_id = amqp_cstring_bytes(message_id);
    }
    amqp_bytes_t bytes = {length, (void *)body};
    return amqp_basic_publish(state, channel, amqp_cstring_bytes(exchange), amqp_cstring_bytes(routing_key), 0, 0,
                              &properties, bytes);
}

/// What a frame read outside `amqp_consume_message` was.
typedef enum er_amqp_frame_kind {
    ER_FRAME_OTHER = 0,
    ER_FRAME_CONFIRM_ACK = 1,
    ER_FRAME_CONFIRM_NACK = 2,
    ER_FRAME_CHANNEL_CLOSE = 3,
    ER_FRAME_CONNECTION_CLOSE = 4,
    ER_FRAME_CONSUMER_CANCELLED = 5,
} er_amqp_frame_kind;

/// Classifies `frame`; for confirms sets the delivery tag and `multiple` flag, for closes the reply text.
static inline er_amqp_frame_kind er_amqp_classify_frame(const amqp_frame_t *frame, uint64_t *tag, int *multiple,
                                                        char *text, size_t text_size) {
    if (frame->frame_type != AMQP_FRAME_METHOD) return ER_FRAME_OTHER;
    switch (frame->payload.method.id) {
    case AMQP_BASIC_ACK_METHOD: {
        amqp_basic_ack_t *ack = (amqp_basic_ack_t *)frame->payload.method.decoded;
        *tag = ack->delivery_tag;
        *multiple = ack->multiple;
        return ER_FRAME_CONFIRM_ACK;
    }
    case AMQP_BASIC_NACK_METHOD: {
        amqp_basic_nack_t *nack = (amqp_basic_nack_t *)frame->payload.method.decoded;
        *tag = nack->delivery_tag;
        *multiple = nack->multiple;
        return ER_FRAME_CONFIRM_NACK;
    }
    case AMQP_CHANNEL_CLOSE_METHOD: {
        amqp_channel_close_t *close = (amqp_channel_close_t *)frame->payload.method.decoded;
        snprintf(text, text_size, "channel %u closed by broker: %u %.*s", frame->channel, close->reply_code,
                 (int)close->reply_text.len, (char *)close->reply_text.bytes);
        return ER_FRAME_CHANNEL_CLOSE;
    }
    case AMQP_CONNECTION_CLOSE_METHOD: {
        amqp_connection_close_t *close = (amqp_connection_close_t *)frame->payload.method.decoded;
        snprintf(text, text_size, "connection closed by broker: %u %.*s", close->reply_code,
                 (int)close->reply_text.len, (char *)close->reply_text.bytes);
        return ER_FRAME_CONNECTION_CLOSE;
    }
    case AMQP_BASIC_CANCEL_METHOD:
        snprintf(text, text_size, "the broker cancelled the consumer (queue deleted?)");
        return ER_FRAME_CONSUMER_CANCELLED;
    default:
        return ER_FRAME_OTHER;
    }
}

/// Status codes Swift compares against (the enum's negative values import awkwardly).
static inline int er_amqp_status_ok(void) { return AMQP_STATUS_OK; }
static inline int er_amqp_status_timeout(void) { return AMQP_STATUS_TIMEOUT; }
static inline int er_amqp_status_unexpected_state(void) { return AMQP_STATUS_UNEXPECTED_STATE; }

#endif
