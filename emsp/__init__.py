"""The eMSP node: settings, database, FastAPI app, OCPI and admin routers, domain services, scheduler and
worker wiring, CLI. It is the composition root: it alone reads the environment and builds the engine, the
shared HTTP client and the scheduler. Import rule: nothing imports `emsp`.
"""
