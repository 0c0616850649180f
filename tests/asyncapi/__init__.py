"""The official AsyncAPI parser (npm ``@asyncapi/parser``), run by the tests on the documents.

``package.json`` and ``package-lock.json`` pin it (and what it needs, with their
hashes); the tests install it themselves with ``npm ci`` into a cache folder of
their own, once, and ``validate.mjs`` runs it on the documents.
"""
