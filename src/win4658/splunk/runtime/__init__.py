"""What runs inside Splunk: the modular input and the external lookup that addon/bin/*.py start, and what they need.

The package vendors these with the library modules they import (win4658.splunk.package.SHIPPED_MODULES); the rest
of win4658.splunk builds the app and talks to Splunk from outside.
"""
