from lib.aisre_st2 import AisreAction


class NormaliseWebhook(AisreAction):
    def run(self, kind, body, headers=None):
        return self.respond(self.runtime.normalise_webhook, kind, body, headers or {})
