"""E-mail of notices through an SMTP server."""

from __future__ import annotations

from email.message import EmailMessage

import aiosmtplib

from watchfloor.core.notifications import EmailTarget, Notice, email_of

__all__ = ["send_email"]


async def send_email(target: EmailTarget, notice: Notice, *, patience: float = 10.0) -> str:
    """Send a notice's e-mail to the target's recipients; return them, comma-separated.

    Raises ``aiosmtplib.SMTPException`` or ``OSError``.
    """
    subject, body = email_of(notice)
    message = EmailMessage()
    message["From"] = target.sender
    message["To"] = ", ".join(target.recipients)
    message["Subject"] = subject
    message.set_content(body)
    await aiosmtplib.send(
        message,
        hostname=target.host,
        port=target.port,
        username=target.username,
        password=target.password,
        start_tls=target.starttls,
        timeout=patience,
    )
    return ", ".join(target.recipients)
