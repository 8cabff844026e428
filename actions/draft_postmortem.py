from lib.aisre_st2 import AisreAction


class DraftPostmortem(AisreAction):
    def run(self, incident_id):
        return self.respond(self.runtime.postmortem, incident_id)
