"""The runtime's own sentences, per language (de, en) and form of address (Sie, Du).

Customer-written texts (greetings, questions) come from the agent's parameters; these are the
fallbacks and the fixed lines of keyword mode.
"""

from __future__ import annotations

from typing import Any

# key -> {"Sie": text, "Du": text, "en": text}; "Du" missing means the Sie text fits both.
_PHRASES: dict[str, dict[str, str]] = {
    "greeting": {
        "Sie": "Guten Tag, wie kann ich Ihnen helfen?",
        "Du": "Hallo, wie kann ich dir helfen?",
        "en": "Hello, how can I help you?",
    },
    "not_understood": {
        "Sie": "Entschuldigung, das habe ich nicht verstanden. Können Sie das bitte wiederholen?",
        "Du": "Entschuldige, das habe ich nicht verstanden. Kannst du das bitte wiederholen?",
        "en": "Sorry, I did not catch that. Could you please repeat it?",
    },
    "ask_concern": {
        "Sie": "Ich kann Sie zum Beispiel mit {options} verbinden. Worum geht es bei Ihnen?",
        "Du": "Ich kann dich zum Beispiel mit {options} verbinden. Worum geht es bei dir?",
        "en": "I can connect you with {options}, for example. What is your call about?",
    },
    "forwarding": {
        "Sie": "Einen Moment bitte, ich verbinde Sie mit {label}.",
        "Du": "Einen Moment bitte, ich verbinde dich mit {label}.",
        "en": "One moment please, I will connect you with {label}.",
    },
    "forward_default": {
        "Sie": "Ich verbinde Sie mit {label}, dort hilft man Ihnen weiter.",
        "Du": "Ich verbinde dich mit {label}, dort hilft man dir weiter.",
        "en": "I will connect you with {label}, they will help you there.",
    },
    "nobody_available": {
        "Sie": "Leider ist gerade niemand persönlich erreichbar. Ich nehme Ihr Anliegen gern "
               "auf, und wir melden uns bei Ihnen.",
        "Du": "Leider ist gerade niemand persönlich erreichbar. Ich nehme dein Anliegen gern "
              "auf, und wir melden uns bei dir.",
        "en": "Unfortunately nobody is available in person right now. I will gladly take "
              "your request, and we will get back to you.",
    },
    "goodbye": {
        "Sie": "Vielen Dank für Ihren Anruf. Auf Wiederhören!",
        "Du": "Danke für deinen Anruf. Tschüss!",
        "en": "Thank you for calling. Goodbye!",
    },
    "no_target": {
        "Sie": "Es tut mir leid, ich kann Sie gerade nicht weiterverbinden. Bitte rufen Sie "
               "später noch einmal an.",
        "Du": "Es tut mir leid, ich kann dich gerade nicht weiterverbinden. Bitte ruf später "
              "noch einmal an.",
        "en": "I am sorry, I cannot connect you right now. Please call again later.",
    },
    "technical_problem": {
        "Sie": "Entschuldigung, es gab ein technisches Problem.",
        "Du": "Entschuldige, es gab ein technisches Problem.",
        "en": "Sorry, there was a technical problem.",
    },
    "dont_know": {
        "Sie": "Das weiß ich leider nicht.",
        "en": "I am afraid I do not know that.",
    },
    "knowledge_intro": {
        "Sie": "Dazu habe ich Folgendes gefunden:",
        "en": "Here is what I found:",
    },
    "anything_else": {
        "Sie": "Kann ich Ihnen sonst noch helfen?",
        "Du": "Kann ich dir sonst noch helfen?",
        "en": "Can I help you with anything else?",
    },
    "voicemail_greeting": {
        "Sie": "Leider ist gerade niemand erreichbar. Ich nehme gern Ihre Nachricht auf.",
        "Du": "Leider ist gerade niemand erreichbar. Ich nehme gern deine Nachricht auf.",
        "en": "Unfortunately nobody is available right now. I will gladly take a message.",
    },
    "ask_name": {
        "Sie": "Wie ist Ihr Name, bitte?",
        "Du": "Wie heißt du?",
        "en": "May I have your name, please?",
    },
    "ask_callback": {
        "Sie": "Unter welcher Nummer können wir Sie zurückrufen?",
        "Du": "Unter welcher Nummer können wir dich zurückrufen?",
        "en": "Which number can we call you back on?",
    },
    "ask_message": {
        "Sie": "Was möchten Sie uns mitteilen?",
        "Du": "Was möchtest du uns mitteilen?",
        "en": "What would you like to tell us?",
    },
    "confirm_number": {
        "Sie": "Ich wiederhole die Nummer: {digits}. Ist das richtig?",
        "Du": "Ich wiederhole die Nummer: {digits}. Stimmt das?",
        "en": "Let me repeat the number: {digits}. Is that correct?",
    },
    "number_again": {
        "Sie": "Dann sagen Sie mir die Nummer bitte noch einmal, Ziffer für Ziffer.",
        "Du": "Dann sag mir die Nummer bitte noch einmal, Ziffer für Ziffer.",
        "en": "Then please tell me the number again, digit by digit.",
    },
    "no_number_heard": {
        "Sie": "Ich habe keine Telefonnummer verstanden. Bitte nennen Sie sie Ziffer für Ziffer.",
        "Du": "Ich habe keine Telefonnummer verstanden. Bitte nenn sie Ziffer für Ziffer.",
        "en": "I did not catch a phone number. Please say it digit by digit.",
    },
    "confirm_summary": {
        "Sie": "Ich fasse zusammen: {summary}. Ist das so richtig?",
        "Du": "Ich fasse zusammen: {summary}. Passt das so?",
        "en": "Let me summarise: {summary}. Is that correct?",
    },
    "what_to_fix": {
        "Sie": "Was soll ich korrigieren? Sagen Sie mir bitte, was nicht stimmt.",
        "Du": "Was soll ich korrigieren? Sag mir bitte, was nicht stimmt.",
        "en": "What should I correct? Please tell me what is wrong.",
    },
    "message_taken": {
        "Sie": "Vielen Dank, ich habe Ihre Nachricht notiert. Wir melden uns bei Ihnen. "
               "Auf Wiederhören!",
        "Du": "Danke, ich habe deine Nachricht notiert. Wir melden uns bei dir. Tschüss!",
        "en": "Thank you, I have taken your message. We will get back to you. Goodbye!",
    },
}

_DIGIT_WORDS = {
    "de": ("null", "eins", "zwei", "drei", "vier", "fünf", "sechs", "sieben", "acht", "neun"),
    "en": ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"),
}


def phrase(key: str, *, language: str = "de", form: str = "Sie", **values: Any) -> str:
    """The fixed sentence ``key`` in the agent's language and form of address."""
    entry = _PHRASES[key]
    if language == "en":
        text = entry["en"]
    else:
        text = entry.get("Du", entry["Sie"]) if form == "Du" else entry["Sie"]
    return text.format(**values) if values else text


def speak_digits(number: str, *, language: str = "de") -> str:
    """``0301234`` -> ``null, drei, null, eins, zwei, drei, vier`` (read back digit by digit)."""
    words = _DIGIT_WORDS.get(language, _DIGIT_WORDS["de"])
    spoken = [words[int(ch)] for ch in number if ch.isdigit()]
    if number.startswith("+"):
        spoken.insert(0, "plus")
    return ", ".join(spoken)


def join_options(labels: list[str], *, language: str = "de") -> str:
    """``["A", "B", "C"]`` -> ``A, B oder C``."""
    if not labels:
        return ""
    if len(labels) == 1:
        return labels[0]
    word = "or" if language == "en" else "oder"
    return f"{', '.join(labels[:-1])} {word} {labels[-1]}"
