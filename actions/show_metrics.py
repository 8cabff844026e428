from lib.aisre_st2 import AisreAction


class ShowMetrics(AisreAction):
    def run(self, service, window="1h"):
        return self.respond(self.chatops.metrics, service, window)
