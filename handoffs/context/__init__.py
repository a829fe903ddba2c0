"""The live context package: kept current on every event, read as one row (see spec §The live context package).

``package`` holds the structure and the plain facts bots post; ``intelligence`` the local engines that
read the conversation (sentiment, slots, commitments, summary, opening line, escalation advice).
"""
