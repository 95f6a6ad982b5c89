package report

import (
	"fmt"
	"strings"
	"time"

	"github.com/breachctl/breachctl/incident"
	"github.com/breachctl/breachctl/internal/textsafe"
)

// brItems are the headings of the communication to the ANPD. Resolution
// CD/ANPD 15/2024 requires 12 items, which the source does not list
// (LAWS-2023-2026.md): these headings present what the case knows, and the
// report says the list is to be checked.
var brItems = []struct{ ID, Title string }{
	{"controlador", "Identificação e contato do controlador e do encarregado"},
	{"natureza", "Descrição e natureza do incidente"},
	{"dados", "Categorias de dados pessoais afetados"},
	{"titulares", "Número de titulares afetados no Brasil"},
	{"riscos", "Riscos e possíveis consequências para os titulares"},
	{"medidas", "Medidas adotadas para reverter ou mitigar os efeitos do incidente"},
	{"comunicacao", "Comunicação aos titulares"},
	{"datas", "Datas do incidente e da ciência; motivos de eventual demora"},
}

// buildBRANPD fills the communication of a security incident to the ANPD
// (LGPD Art. 48, Resolution CD/ANPD 15/2024), in Brazilian Portuguese, for
// the affected people who live in Brazil. The 3 business days are the
// br-lgpd-anpd duty's. The case file has no Portuguese narrative (pt is no
// notice locale): its texts are quoted as written.
func buildBRANPD(r *Report, in Input) {
	const lang = "pt-BR"
	c, loc := in.Case, r.loc
	br := tallyOf(in.Affected, livesIn("BR"))
	all := tallyOf(in.Affected, nil)
	org := c.Organization
	nar := c.NarrativeFor("pt")
	deadline, _ := businessClock(c, "BR", c.Aware, 3)
	if o, ok := dutyOf(in, "br-lgpd-anpd"); ok {
		deadline = o.Deadline
	}
	r.Title = "Comunicação de incidente de segurança à ANPD (LGPD, art. 48; Resolução CD/ANPD nº 15/2024)"
	r.Meta = []Field{
		{"Destinatário", "Autoridade Nacional de Proteção de Dados (ANPD)"},
		{"Controlador", org.Name},
		{"Endereço", orUnknown(lang, org.Address)},
		{"Caso", fmt.Sprintf("%s (execução %d)", c.ID, r.Run)},
		{"Ciência do incidente", stamp(lang, c.Aware, loc)},
		{"Prazo", stamp(lang, deadline, loc) + ", 3 dias úteis a partir da ciência (6 para agentes de tratamento de pequeno porte)"},
		{"Lista de itens", "não verificada: conferir os 12 itens da Resolução CD/ANPD nº 15/2024 antes de enviar"},
	}
	if r.Revision != nil {
		r.Meta = append(r.Meta, Field{"Comunicação complementar", "complementa " + r.PreviousText() +
			fmt.Sprintf("; os números são da execução %d (ver \"Alterações desde a comunicação anterior\")", r.Run)})
	}
	r.Notes = append(r.Notes, "A Resolução CD/ANPD nº 15/2024 exige 12 itens na comunicação à ANPD (e 7 na comunicação aos titulares); a fonte consultada não os lista. Os títulos abaixo apresentam o que o caso registra: conferir a lista de itens na Resolução e no formulário da ANPD antes de enviar.")
	if br.People == 0 {
		r.Notes = append(r.Notes, "Nenhum titular afetado reside no Brasil nesta execução: verificar se a LGPD se aplica.")
	}
	if cats := br.has(func(i incident.CategoryInfo) bool { return i.Sensitive || i.Financial || i.Identifier }); len(cats) > 0 {
		r.Notes = append(r.Notes, "Risco ou dano relevante provável: "+joinCats(lang, cats, br.ByCategory)+". Comunicar também os titulares.")
	} else if br.People > 0 {
		r.Notes = append(r.Notes, "Nenhum dado sensível, financeiro, de autenticação ou de identificação foi exposto no Brasil: avaliar se há risco ou dano relevante (dados de crianças, adolescentes ou idosos, ou larga escala, também contam).")
	}
	if _, listed := c.Holiday("BR", ""); !listed {
		r.Notes = append(r.Notes, "O arquivo do caso não lista feriados do Brasil (calendar.holidays.BR): todo dia de semana foi contado como dia útil no prazo; conferir.")
	}
	if in.Now.After(deadline) {
		r.Notes = append(r.Notes, fmt.Sprintf("O prazo (%s) já passou: informar os motivos da demora.", stamp(lang, deadline, loc)))
	}
	if c.NarrativeBorrowed("pt") {
		r.Notes = append(r.Notes, "Onde o arquivo do caso não tem narrativa em português (notify.narrative.pt), os textos foram citados no original (inglês) e devem ser traduzidos antes do envio.")
	}

	item := func(i int, content string, known bool) {
		r.addItem(brItems[i].ID, brItems[i].Title, content, known, unknown(lang)+".")
	}
	quote := func(s string) string { return "(texto original do arquivo do caso, em inglês) " + s }

	ctl := []string{"- Controlador: " + org.Name, "- Contato: " + contact(lang, org)}
	if org.Address != "" {
		ctl = append(ctl, "- Endereço: "+org.Address)
	}
	if org.DPOEmail != "" {
		ctl = append(ctl, "- Encarregado (DPO): "+org.DPOEmail)
	} else {
		ctl = append(ctl, "- Encarregado (DPO): não informado no arquivo do caso (organization.dpo_email)")
	}
	item(0, strings.Join(ctl, "\n"), org.DPOEmail != "")

	nature := c.Title + ". Tipo de causa: " + causeKindLabel(lang, c.CauseKind) + "."
	if nar.Cause != "" {
		item(1, nature+"\n\n"+quote(nar.Cause), true)
	} else {
		item(1, nature+"\n\nPara preencher este item, informe narrative.cause no arquivo do caso.", false)
	}

	var cats []string
	for _, cat := range sortedCategories(br.ByCategory) {
		line := fmt.Sprintf("- %s: %s", categoryLabel(lang, cat), people(lang, br.ByCategory[cat]))
		if n := br.ConfirmedByCategory[cat]; n > 0 {
			line += fmt.Sprintf(" (exposição confirmada: %s)", people(lang, n))
		}
		cats = append(cats, line)
	}
	if len(cats) > 0 {
		item(2, "Titulares residentes no Brasil:\n\n"+strings.Join(cats, "\n"), true)
	} else {
		item(2, "Nenhum titular residente no Brasil nesta execução; as categorias vêm das contas afetadas da execução (breachctl ingest).", false)
	}

	if br.People > 0 {
		item(3, "- Titulares residentes no Brasil: "+levelSplit(lang, br.People, br.Confirmed, br.Possible)+
			"\n- Por região: "+regionListOf(br.ByRegion, textsafe.MD)+
			"\n- Incidente completo, todos os países: "+levelSplit(lang, all.People, all.Confirmed, all.Possible)+
			fmt.Sprintf("\n\nNúmeros da execução %d (análise de %d arquivos de log); podem ser revistos com o avanço da investigação. ", r.Run, len(in.Evidence))+
			"\"Confirmadas\": os logs comprovam que os dados da pessoa foram entregues a terceiros; \"possíveis\": podem ter sido, mas os logs não o comprovam ou não identificam o destinatário."+
			revisedPT(r, "people."), true)
	} else {
		item(3, "Nenhum titular residente no Brasil nesta execução (incidente completo: "+people(lang, all.People)+").", false)
	}

	if nar.Consequences != "" {
		item(4, quote(nar.Consequences), true)
	} else {
		item(4, "Para preencher este item, informe narrative.consequences no arquivo do caso.", false)
	}

	if nar.Measures != "" {
		item(5, quote(nar.Measures)+"\n\nMedidas de segurança existentes antes do incidente: não registradas no arquivo do caso.", true)
	} else {
		item(5, "Para preencher este item, informe narrative.measures no arquivo do caso.", false)
	}

	notices, known := deliveryText(lang, in.Delivery, all.People, loc)
	item(6, notices, known)

	dates := []string{
		"- Período do incidente (declarado): " + span(lang, c.Start, c.End, loc),
		"- Ciência do incidente: " + stamp(lang, c.Aware, loc),
		"- Contenção: " + stamp(lang, c.Contain, loc),
	}
	if !br.First.IsZero() {
		dates = append(dates, "- Exposição observada nos logs (titulares no Brasil): "+span(lang, br.First, br.Last, loc))
	}
	if in.Now.After(deadline) {
		item(7, strings.Join(dates, "\n")+"\n\nEsta comunicação é feita após o prazo: os motivos da demora ainda não são conhecidos; informá-los.", false)
	} else {
		item(7, strings.Join(dates, "\n"), true)
	}
}

// revisedPT lists the changes of the figures under prefixes since the
// previous report ("" when none changed).
func revisedPT(r *Report, prefixes ...string) string {
	ch := r.changeLines(prefixes...)
	if len(ch) == 0 {
		return ""
	}
	return "\n\nAlterações desde " + r.PreviousText() + ":\n\n" + strings.Join(ch, "\n")
}

// deliveryTextPT is deliveryText in Brazilian Portuguese.
func deliveryTextPT(d Delivery, affected int, l *time.Location) (string, bool) {
	if d.Total == 0 {
		return fmt.Sprintf("Nenhuma comunicação aos titulares consta ainda do registro de envios (%s a comunicar).", people("pt-BR", affected)), false
	}
	s := fmt.Sprintf("Comunicações por e-mail: %s no registro de envios; %s enviadas, %s com falha, %s pendentes, %s com resultado incerto.",
		numPT(d.Total), numPT(d.Sent), numPT(d.Failed), numPT(d.Pending), numPT(d.Uncertain))
	if !d.FirstSent.IsZero() {
		s += " Enviadas entre " + stamp("pt-BR", d.FirstSent, l) + " e " + stamp("pt-BR", d.LastSent, l) + "."
	}
	if d.Sent >= d.Total && d.Sent >= affected {
		s += " Todos os titulares afetados foram comunicados."
	}
	return s, true
}
