"""win4658: Windows Security event 4658 ("The handle to an object was closed") for Splunk and Elastic."""

__version__ = "0.1.0"
