"""Code shared by every Vellet component: settings, money, errors, tokens,
database and stream plumbing, metrics and the embedded servers.

Nothing in here knows about a particular service, so any service may use it
and none of it may import a service.
"""
