"""Forwarding: every stored record delivered onward to sinks (MQTT, NATS JetStream,
webhooks), at least once, in order of receipt, through restarts and outages.
"""
