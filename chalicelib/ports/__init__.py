"""The ports: what the services need from the outside world, in the domain's own terms.

Services depend on these protocols and types only; ``chalicelib/adapters/`` implements them
(DynamoDB, the brokers' HTTP dialects, KMS, Cognito) and ``container.py`` wires one to the other.
Tests give the services in-memory fakes of the same protocols (``tests/fakes/``).
"""
