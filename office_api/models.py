"""Imports every model module so that ``Base.metadata`` knows all tables (Alembic, tests)."""

from documents import attachments as attachment_models  # noqa: F401
from documents import incoming_models as documents_incoming_models  # noqa: F401
from documents import models as documents_models  # noqa: F401
from documents import open_log as documents_open_log  # noqa: F401
from documents import phrases as documents_phrases  # noqa: F401
from documents import search as documents_search  # noqa: F401
from documents import supervision_models as documents_supervision  # noqa: F401
from documents import versions as version_models  # noqa: F401
from meetings import models as meeting_models  # noqa: F401
from messaging import devices as device_models  # noqa: F401
from messaging import models as messaging_models  # noqa: F401
from office_api import deadlines as deadline_models  # noqa: F401
from office_api import extensions as extension_models  # noqa: F401
from office_api import idempotency as idempotency_models  # noqa: F401
from office_api import reminders as reminder_models  # noqa: F401
from office_api import scheduler as scheduler_models  # noqa: F401
from office_api import sla as sla_models  # noqa: F401
from office_api import workdays as workday_models  # noqa: F401
from office_api.clients import models as clients_models  # noqa: F401
from office_api.db import Base
from office_api.org import models as org_models  # noqa: F401
from office_api.webhooks import models as webhook_models  # noqa: F401

metadata = Base.metadata
