from lib.aisre_st2 import AisreAction


class CorrelateSignal(AisreAction):
    def run(self, signal):
        return self.respond(self.runtime.correlate, signal)
