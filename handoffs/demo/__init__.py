"""The demo's simulated customers: scripted conversations and a bot that plays them over the signed API.

``scenarios`` holds the scripts; ``simulator`` plays them against a running console exactly as an
external bot would (Standard Webhooks signatures, idempotent retries, polling its handoffs). The
``simulate`` management command runs it; ``make demo`` starts it next to daphne.
"""
