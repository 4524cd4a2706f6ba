"""AMQP helper of scripts/fault-suite: queue depths, purge, raw publishes, duplication of queued messages."""
import json, os, sys
import pika

def channel():
    connection = pika.BlockingConnection(pika.URLParameters(os.environ["FAULTS_AMQP_URL"]))
    ch = connection.channel()
    ch.confirm_delivery()
    return connection, ch

def depth(ch, queue):
    try:
        return ch.queue_declare(queue, passive=True).method.message_count
    except pika.exceptions.ChannelClosedByBroker:  # absent queue
        return None

def main(argv):
    command, args = argv[0], argv[1:]
    connection, ch = channel()
    if command == "depth":  # depth QUEUE...: ready messages (0 for an absent queue)
        out = []
        for q in args:
            n = depth(ch, q)
            if n is None:
                connection, ch = channel()
                n = 0
            out.append(str(n))
        print(" ".join(out))
    elif command == "purge":  # purge QUEUE...
        for q in args:
            if depth(ch, q) is None:
                connection, ch = channel()
                continue
            ch.queue_purge(q)
    elif command == "publish":  # publish QUEUE FILE [COPIES]: the file's bytes, as is, persistent
        queue, path = args[0], args[1]
        copies = int(args[2]) if len(args) > 2 else 1
        body = open(path, "rb").read()
        for _ in range(copies):
            ch.basic_publish("", queue, body, pika.BasicProperties(delivery_mode=2), mandatory=True)
    elif command == "publish-many":  # publish-many LIST: one publish per line "EXCHANGE<TAB>ROUTING_KEY<TAB>FILE"
        for line in open(args[0]):
            exchange, key, path = line.rstrip("\n").split("\t")
            ch.basic_publish(exchange, key, open(path, "rb").read(), pika.BasicProperties(delivery_mode=2), mandatory=True)
    elif command == "duplicate":  # duplicate QUEUE COPIES: every ready message becomes COPIES identical ones
        queue, copies = args[0], int(args[1])
        taken = []
        for _ in range(depth(ch, queue) or 0):
            method, properties, body = ch.basic_get(queue, auto_ack=False)
            if method is None:
                break
            taken.append((method.delivery_tag, properties, body))
        # Acknowledged, and a round trip made, before the copies are published: acked after the publishes,
        # some originals were still unsettled when the connection closed and came back as extra copies.
        for tag, _, _ in taken:
            ch.basic_ack(tag)
        depth(ch, queue)  # a round trip: the acks are processed before the publishes
        for _, properties, body in taken:
            for _ in range(copies):
                ch.basic_publish("", queue, body, pika.BasicProperties(
                    delivery_mode=2, message_id=properties.message_id, content_type=properties.content_type),
                    mandatory=True)
        print(len(taken))
    elif command == "dead":  # dead: why each dead-lettered message is there (left in place)
        reasons = {}
        taken = []
        for _ in range(depth(ch, "er.dead") or 0):
            method, properties, body = ch.basic_get("er.dead", auto_ack=False)
            if method is None:
                break
            taken.append(method.delivery_tag)
            death = ((properties.headers or {}).get("x-death") or [{}])[0]
            key = "%s from %s" % (death.get("reason", b"?"), death.get("queue", b"?"))
            key = key.replace("b'", "").replace("'", "")
            reasons[key] = reasons.get(key, 0) + 1
        for tag in taken:
            ch.basic_nack(tag, requeue=True)
        for key, n in sorted(reasons.items()):
            print("%4d  %s" % (n, key))
    else:
        raise SystemExit("unknown command " + command)
    connection.close()

if __name__ == "__main__":
    main(sys.argv[1:])
