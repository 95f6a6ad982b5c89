package notify

import (
	"testing"
	"time"
)

func TestFormatters(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Skip("no time zone database:", err)
	}
	a := time.Date(2026, 12, 3, 9, 5, 0, 0, berlin)
	sameDay := a.Add(5*time.Hour + 33*time.Minute)
	nextDay := time.Date(2026, 12, 8, 1, 30, 0, 0, berlin)
	summer := time.Date(2026, 7, 1, 14, 0, 0, 0, berlin)
	tokyo := a.In(time.FixedZone("JST", 9*3600))
	items := []string{"A", "B", "C"}
	tests := []struct {
		locale                       string
		date, dateTime, summer       string
		sameDay, nextDay, otherZones string
		number, list                 string
	}{
		{"de", "3. Dezember 2026", "3. Dezember 2026 um 09:05 Uhr (MEZ, UTC+01:00)", "1. Juli 2026 um 14:00 Uhr (MESZ, UTC+02:00)",
			"vom 3. Dezember 2026, 09:05 Uhr, bis 14:38 Uhr (MEZ, UTC+01:00)",
			"vom 3. Dezember 2026, 09:05 Uhr, bis zum 8. Dezember 2026, 01:30 Uhr (MEZ, UTC+01:00)",
			"vom 3. Dezember 2026, 09:05 Uhr (MEZ, UTC+01:00), bis zum 3. Dezember 2026, 17:05 Uhr (UTC+09:00)",
			"1.234.567", "A, B und C"},
		{"fr", "3 décembre 2026", "3 décembre 2026 à 9\u00a0h\u00a005 (UTC+01:00)", "1er juillet 2026 à 14\u00a0h\u00a000 (UTC+02:00)",
			"du 3 décembre 2026 à 9\u00a0h\u00a005 au 3 décembre 2026 à 14\u00a0h\u00a038 (UTC+01:00)",
			"du 3 décembre 2026 à 9\u00a0h\u00a005 au 8 décembre 2026 à 1\u00a0h\u00a030 (UTC+01:00)",
			"du 3 décembre 2026 à 9\u00a0h\u00a005 (UTC+01:00) au 3 décembre 2026 à 17\u00a0h\u00a005 (UTC+09:00)",
			"1\u202f234\u202f567", "A, B et C"},
		{"es", "3 de diciembre de 2026", "3 de diciembre de 2026 a las 9:05 (UTC+01:00)", "1 de julio de 2026 a las 14:00 (UTC+02:00)",
			"del 3 de diciembre de 2026 a las 9:05 al 3 de diciembre de 2026 a las 14:38 (UTC+01:00)",
			"del 3 de diciembre de 2026 a las 9:05 al 8 de diciembre de 2026 a la 1:30 (UTC+01:00)",
			"del 3 de diciembre de 2026 a las 9:05 (UTC+01:00) al 3 de diciembre de 2026 a las 17:05 (UTC+09:00)",
			"1.234.567", "A, B y C"},
		{"it", "3 dicembre 2026", "3 dicembre 2026 alle ore 9:05 (UTC+01:00)", "1º luglio 2026 alle ore 14:00 (UTC+02:00)",
			"dal 3 dicembre 2026, ore 9:05, al 3 dicembre 2026, ore 14:38 (UTC+01:00)",
			"dal 3 dicembre 2026, ore 9:05, all'8 dicembre 2026, ore 1:30 (UTC+01:00)",
			"dal 3 dicembre 2026, ore 9:05 (UTC+01:00), al 3 dicembre 2026, ore 17:05 (UTC+09:00)",
			"1.234.567", "A, B e C"},
		{"nl", "3 december 2026", "3 december 2026 om 09:05 uur (UTC+01:00)", "1 juli 2026 om 14:00 uur (UTC+02:00)",
			"van 3 december 2026, 09:05 uur tot 3 december 2026, 14:38 uur (UTC+01:00)",
			"van 3 december 2026, 09:05 uur tot 8 december 2026, 01:30 uur (UTC+01:00)",
			"van 3 december 2026, 09:05 uur (UTC+01:00) tot 3 december 2026, 17:05 uur (UTC+09:00)",
			"1.234.567", "A, B en C"},
		{"ko", "2026년 12월 3일", "2026년 12월 3일 09:05 (CET, UTC+01:00)", "2026년 7월 1일 14:00 (CEST, UTC+02:00)",
			"2026년 12월 3일 09:05~14:38 (CET, UTC+01:00)",
			"2026년 12월 3일 09:05 ~ 12월 8일 01:30 (CET, UTC+01:00)",
			"2026년 12월 3일 09:05 (CET, UTC+01:00) ~ 2026년 12월 3일 17:05 (JST, UTC+09:00)",
			"1,234,567", "A, B 및 C"},
		{"pt", "3 de dezembro de 2026", "3 de dezembro de 2026, às 9h05 (UTC+01:00)", "1º de julho de 2026, às 14h00 (UTC+02:00)",
			"em 3 de dezembro de 2026, das 9h05 às 14h38 (UTC+01:00)",
			"de 3 de dezembro de 2026, às 9h05, a 8 de dezembro de 2026, à 1h30 (UTC+01:00)",
			"de 3 de dezembro de 2026, às 9h05 (UTC+01:00), a 3 de dezembro de 2026, às 17h05 (UTC+09:00)",
			"1.234.567", "A, B e C"},
		{"zh-Hans", "2026年12月3日", "2026年12月3日 09:05（CET，UTC+01:00）", "2026年7月1日 14:00（CEST，UTC+02:00）",
			"2026年12月3日 09:05至14:38（CET，UTC+01:00）",
			"2026年12月3日 09:05至12月8日 01:30（CET，UTC+01:00）",
			"2026年12月3日 09:05（CET，UTC+01:00）至2026年12月3日 17:05（JST，UTC+09:00）",
			"1,234,567", "A、B和C"},
		{"zh-Hant", "2026年12月3日", "2026年12月3日 09:05（CET，UTC+01:00）", "2026年7月1日 14:00（CEST，UTC+02:00）",
			"2026年12月3日 09:05至14:38（CET，UTC+01:00）",
			"2026年12月3日 09:05至12月8日 01:30（CET，UTC+01:00）",
			"2026年12月3日 09:05（CET，UTC+01:00）至2026年12月3日 17:05（JST，UTC+09:00）",
			"1,234,567", "A、B與C"},
	}
	for _, tc := range tests {
		t.Run(tc.locale, func(t *testing.T) {
			f := formatterFor(tc.locale)
			for _, c := range []struct{ what, got, want string }{
				{"Date", f.Date(a), tc.date},
				{"DateTime", f.DateTime(a), tc.dateTime},
				{"DateTime (summer)", f.DateTime(summer), tc.summer},
				{"Period (same day)", f.Period(a, sameDay), tc.sameDay},
				{"Period (days apart)", f.Period(a, nextDay), tc.nextDay},
				{"Period (zones differ)", f.Period(a, tokyo.Add(0)), tc.otherZones},
				{"Number", f.Number(1234567), tc.number},
				{"List", f.List(items), tc.list},
			} {
				if c.got != c.want {
					t.Errorf("%s = %q, want %q", c.what, c.got, c.want)
				}
			}
		})
	}
	if got, want := formatterFor("es").List([]string{"Nombre", "Información sanitaria"}), "Nombre e Información sanitaria"; got != want {
		t.Errorf("es List = %q, want %q", got, want)
	}
	for _, tc := range []struct{ locale, zone, want string }{
		{"ko", "Asia/Seoul", "2026년 12월 3일 17:05 (한국 시간)"},
		{"pt", "America/Sao_Paulo", "3 de dezembro de 2026, às 5h05 (horário de Brasília, UTC-03:00)"},
		{"zh-Hans", "Asia/Shanghai", "2026年12月3日 16:05（北京时间）"},
		{"zh-Hant", "Asia/Taipei", "2026年12月3日 16:05（臺灣時間）"},
	} {
		z, err := time.LoadLocation(tc.zone)
		if err != nil {
			t.Fatal(err)
		}
		if got := formatterFor(tc.locale).DateTime(a.In(z)); got != tc.want {
			t.Errorf("%s DateTime in %s = %q, want %q", tc.locale, tc.zone, got, tc.want)
		}
	}
	if got, want := formatterFor("pt").Period(time.Date(2026, 3, 11, 1, 0, 0, 0, berlin), time.Date(2026, 3, 11, 8, 0, 0, 0, berlin)), "em 11 de março de 2026, da 1h00 às 8h00 (UTC+01:00)"; got != want {
		t.Errorf("pt Period = %q, want %q", got, want)
	}
	if got, want := formatterFor("zh-Hans").List([]string{"A"}), "A"; got != want {
		t.Errorf("zh-Hans List = %q, want %q", got, want)
	}
	if got, want := formatterFor("it").Period(time.Date(2026, 3, 11, 8, 0, 0, 0, berlin), time.Date(2026, 3, 12, 8, 0, 0, 0, berlin)), "dall'11 marzo 2026, ore 8:00, al 12 marzo 2026, ore 8:00 (UTC+01:00)"; got != want {
		t.Errorf("it Period = %q, want %q", got, want)
	}
}
