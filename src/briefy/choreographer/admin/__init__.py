"""Administration: creating the queues, the dead-letter tools, and introspection of the choreography."""
