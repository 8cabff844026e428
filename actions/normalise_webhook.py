from lib.aisre_st2 import AisreAction

from aisre.runtime import normalise_webhook


class NormaliseWebhook(AisreAction):
    def run(self, kind, body, headers=None):
        return self.respond(normalise_webhook, kind, body, headers or {})
