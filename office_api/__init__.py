"""Backend of the province-wide government mobile office platform (office_api).

The composition root lives in :mod:`office_api.app`; settings in :mod:`office_api.config`.
"""

__version__ = "0.1.0"
