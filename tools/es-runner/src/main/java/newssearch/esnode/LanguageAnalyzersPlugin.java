package newssearch.esnode;

import java.util.Map;
import java.util.function.Supplier;

import org.apache.lucene.analysis.Analyzer;
import org.apache.lucene.analysis.de.GermanAnalyzer;
import org.apache.lucene.analysis.en.EnglishAnalyzer;
import org.apache.lucene.analysis.ru.RussianAnalyzer;
import org.elasticsearch.index.analysis.AnalyzerProvider;
import org.elasticsearch.index.analysis.AnalyzerScope;
import org.elasticsearch.indices.analysis.AnalysisModule.AnalysisProvider;
import org.elasticsearch.plugins.AnalysisPlugin;
import org.elasticsearch.plugins.Plugin;

/**
 * The language analyzers NewsSearch maps text fields to ({@code german}, {@code english},
 * {@code russian}), registered under the names Elasticsearch's analysis-common module uses.
 *
 * <p>analysis-common builds these exact Lucene analyzers with their default stop words and no
 * stem exclusions; that module is not published on Maven Central for 8.x, so the dev node
 * registers them itself. Index settings that customise them (stopwords, stem_exclusion) are
 * not supported here: NewsSearch's mapping uses the defaults only.
 */
public final class LanguageAnalyzersPlugin extends Plugin implements AnalysisPlugin {

    private static final Map<String, Supplier<Analyzer>> ANALYZERS = Map.of(
        "german", GermanAnalyzer::new,
        "english", EnglishAnalyzer::new,
        "russian", RussianAnalyzer::new
    );

    @Override
    public Map<String, AnalysisProvider<AnalyzerProvider<? extends Analyzer>>> getAnalyzers() {
        return Map.of(
            "german", provider("german"),
            "english", provider("english"),
            "russian", provider("russian")
        );
    }

    private static AnalysisProvider<AnalyzerProvider<? extends Analyzer>> provider(String type) {
        return (indexSettings, environment, name, settings) -> new Fixed(name, ANALYZERS.get(type).get());
    }

    /** An index-scoped provider handing out one analyzer instance, like ES's own providers. */
    private record Fixed(String name, Analyzer analyzer) implements AnalyzerProvider<Analyzer> {
        @Override
        public AnalyzerScope scope() {
            return AnalyzerScope.INDEX;
        }

        @Override
        public Analyzer get() {
            return analyzer;
        }
    }
}
