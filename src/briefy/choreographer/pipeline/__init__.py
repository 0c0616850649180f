"""The pipeline: what happens to a received batch, in small parts.

``job``        one received message on its way, and the retry state it carries
``plan``       parse each message, fire its event; the actions plan their outputs
``deliver``    send the outputs of a batch, grouped by queue
``decide``     the outcome of each job: done, retry after N seconds, dead letter
``settle``     carry the outcomes out: delete, dead-letter, retry, hold
``listeners``  what hears the outcomes: the log lines (metrics: ``ops.metrics``)

and what they use: ``outbox`` (where handlers hand their actions), ``state``
(sealed retry state), ``retry`` (attempts, backoff, envelopes), ``deadletter``
(the dead-letter format), ``memory`` (what a process remembers between
attempts) and ``fifo`` (order within a FIFO batch).
"""
